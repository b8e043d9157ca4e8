/**
 * A CampaignService the test drives, in-process over createRouterTransport, to feed the
 * TUI's Campaigns view exact figures: the test sets each campaign's stats and pushes
 * WatchCampaign answers (rate, ETA) when it wants the view to move; pause, resume and
 * cancel change the campaign's state and are recorded. Only the methods the view calls
 * are served; the rest answer Unimplemented, as an unknown method would.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
import {
  type Campaign,
  CampaignSchema,
  CampaignService,
  CampaignState,
  CampaignStatsSchema,
  type Delivery,
  type ListDeliveriesRequest,
  type WatchCampaignResponse,
  WatchCampaignResponseSchema,
} from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";

type Stats = Omit<MessageInitShape<typeof CampaignStatsSchema>, "$typeName">;

export interface CampaignFeed {
  transport: Transport;
  /** Adds a campaign (newest first in the list). */
  add(campaign: { id: string; name: string; state: CampaignState; stats?: Stats }): void;
  /** Changes a campaign's figures and tells its watchers, with this rate and ETA. */
  progress(id: string, change: { stats?: Stats; rate: number; etaSeconds: number }): void;
  /** The deliveries ListDeliveries answers for a campaign, as given. */
  setDeliveries(id: string, deliveries: Delivery[]): void;
  /** What was asked, in order: "pause c1", "listDeliveries c1 failuresFirst". */
  calls: string[];
  /** Watch streams open now, by campaign id. */
  watching(id: string): number;
}

export function startCampaignFeed(): CampaignFeed {
  const campaigns: Campaign[] = [];
  const deliveries = new Map<string, Delivery[]>();
  const watchers = new Map<string, Set<(r: WatchCampaignResponse) => void>>();
  const calls: string[] = [];
  const find = (id: string) => {
    const c = campaigns.find((x) => x.id === id);
    if (!c) throw new ConnectError(`campaign ${id} not found`, Code.NotFound);
    return c;
  };
  const tell = (c: Campaign, rate: number, etaSeconds: number) => {
    const response = create(WatchCampaignResponseSchema, {
      campaign: create(CampaignSchema, c),
      ratePerSecond: rate,
      etaSeconds: BigInt(etaSeconds),
    });
    for (const send of watchers.get(c.id) ?? []) send(response);
  };
  const setState = (id: string, state: CampaignState, verb: string) => {
    calls.push(`${verb} ${id}`);
    const c = find(id);
    c.state = state;
    tell(c, 0, 0);
    return { campaign: c };
  };
  const transport = createRouterTransport((router) =>
    router.service(CampaignService, {
      listCampaigns: () => ({ campaigns: campaigns.map((c) => create(CampaignSchema, c)) }),
      getCampaign: (req) => ({ campaign: find(req.id) }),
      pauseCampaign: (req) => setState(req.id, CampaignState.PAUSED, "pause"),
      resumeCampaign: (req) => setState(req.id, CampaignState.SENDING, "resume"),
      cancelCampaign: (req) => setState(req.id, CampaignState.CANCELLED, "cancel"),
      listDeliveries: (req: ListDeliveriesRequest) => {
        calls.push(`listDeliveries ${req.campaignId}${req.failuresFirst ? " failuresFirst" : ""}`);
        return { deliveries: deliveries.get(req.campaignId) ?? [] };
      },
      async *watchCampaign(req, ctx) {
        find(req.id);
        const queue: WatchCampaignResponse[] = [];
        let wake: (() => void) | undefined;
        const send = (r: WatchCampaignResponse) => {
          queue.push(r);
          wake?.();
        };
        const set = watchers.get(req.id) ?? new Set();
        watchers.set(req.id, set.add(send));
        try {
          while (!ctx.signal.aborted) {
            const next = queue.shift();
            if (next) yield next;
            else {
              await new Promise<void>((resolve) => {
                wake = resolve;
                ctx.signal.addEventListener("abort", () => resolve(), { once: true });
              });
            }
          }
        } finally {
          set.delete(send);
        }
      },
    })
  );
  return {
    transport,
    calls,
    add({ id, name, state, stats }) {
      campaigns.unshift(
        create(CampaignSchema, { id, name, state, stats: create(CampaignStatsSchema, stats) }),
      );
    },
    progress(id, { stats, rate, etaSeconds }) {
      const c = find(id);
      const { $typeName: _, ...now } = c.stats ?? create(CampaignStatsSchema);
      c.stats = create(CampaignStatsSchema, { ...now, ...stats });
      tell(c, rate, etaSeconds);
    },
    setDeliveries: (id, list) => deliveries.set(id, list),
    watching: (id) => watchers.get(id)?.size ?? 0,
  };
}
