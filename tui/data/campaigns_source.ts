/**
 * The campaigns stream. There is no "watch every campaign" RPC: the stream lists the
 * campaigns every few seconds (on the clock) and follows each active one with its own
 * WatchCampaign (at most MAX_WATCHED at once), merging everything into one stream of
 * events for the live store. Its buffer is bounded: past it the view lists again.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Campaign } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { type Clients, describeError, UNARY_TIMEOUT_MS } from "./clients.ts";
import type { Clock } from "./clock.ts";
import {
  type CampaignEvent,
  type CampaignsState,
  EMPTY_CAMPAIGNS,
  isActive,
  reduceCampaigns,
} from "./campaigns_reducer.ts";
import type { LiveSource } from "./live_store.ts";
import { readPages } from "./sources.ts";

/** How often the list is read again (new campaigns, launches, completions). */
export const CAMPAIGN_POLL_MS = 3000;
/** Most campaigns listed. */
export const MAX_CAMPAIGNS = 500;
/** Most campaigns followed with their own WatchCampaign stream. */
export const MAX_WATCHED = 20;
const MAX_BUFFERED = 1000;

async function listCampaigns(clients: Clients, signal: AbortSignal) {
  const { items, truncated } = await readPages<Campaign>(async (pageToken) => {
    const r = await clients.campaigns.listCampaigns({ pageSize: 100, pageToken }, {
      signal,
      timeoutMs: UNARY_TIMEOUT_MS,
    });
    return { items: r.campaigns, next: r.nextPageToken };
  }, MAX_CAMPAIGNS);
  return { campaigns: items, truncated };
}

/** The merged stream: list events on every poll, progress events from each watch. */
async function* watchCampaigns(
  clients: Clients,
  clock: Clock,
  signal: AbortSignal,
  pollMs: number,
): AsyncGenerator<CampaignEvent> {
  const queue: CampaignEvent[] = [];
  let wake: (() => void) | undefined;
  let failure: { error: unknown } | undefined;
  const push = (event: CampaignEvent) => {
    if (queue.length >= MAX_BUFFERED) queue.splice(0, queue.length, { kind: "overflow" });
    else queue.push(event);
    wake?.();
  };
  const watched = new Set<string>();
  const follow = async (id: string) => {
    watched.add(id);
    try {
      for await (const response of clients.campaigns.watchCampaign({ id }, { signal })) {
        push({ kind: "progress", response, at: clock.now() });
      }
    } catch (error) {
      if (signal.aborted) return;
      // A campaign deleted or finished meanwhile ends its stream; the next list says so.
      if (!(error instanceof ConnectError && error.code === Code.NotFound)) {
        push({ kind: "watch-error", id, error: describeError(error) });
      }
    } finally {
      watched.delete(id);
    }
  };
  const poll = async () => {
    try {
      while (!signal.aborted) {
        const listed = await listCampaigns(clients, signal);
        push({ kind: "listed", ...listed });
        for (const c of listed.campaigns.filter(isActive)) {
          if (watched.size >= MAX_WATCHED) break;
          if (!watched.has(c.id)) void follow(c.id);
        }
        await clock.sleep(pollMs, signal);
      }
    } catch (error) {
      failure = { error };
      wake?.();
    }
  };
  void poll();
  while (true) {
    const event = queue.shift();
    if (event) {
      yield event;
      continue;
    }
    if (failure) {
      if (signal.aborted) return;
      throw failure.error;
    }
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

export function campaignsSource(
  clients: Clients,
  clock: Clock,
  pollMs = CAMPAIGN_POLL_MS,
): LiveSource<CampaignsState, CampaignEvent> {
  return {
    name: "campaigns",
    empty: EMPTY_CAMPAIGNS,
    async list(signal, previous) {
      const listed = await listCampaigns(clients, signal);
      // Rates and ETAs of the last stream stay until the new one speaks.
      const state = reduceCampaigns({ ...previous, campaigns: [] }, [{ kind: "listed", ...listed }]);
      return typeof state === "symbol" ? EMPTY_CAMPAIGNS : state;
    },
    watch: (signal) => watchCampaigns(clients, clock, signal, pollMs),
    reduce: reduceCampaigns,
  };
}
