/**
 * The Campaigns view's state: the campaigns as ListCampaigns last said, each replaced by
 * what its WatchCampaign stream says since, with the stream's rate and ETA. Pure.
 */
import {
  type Campaign,
  CampaignState,
  type CampaignStats,
  type WatchCampaignResponse,
} from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { RESYNC } from "./live_store.ts";

/** What the server said last about a campaign that is being watched. */
export interface LiveFigures {
  /** Deliveries finished per second over the last minute. */
  rate: number;
  /** Seconds until the pending deliveries are done at that rate; 0 when unknown or done. */
  etaSeconds: number;
  /** When it arrived (clock ms). */
  at: number;
}

export interface CampaignsState {
  campaigns: readonly Campaign[];
  /** More campaigns exist than were listed. */
  truncated: boolean;
  /** By campaign id: the figures of the campaigns being watched. */
  live: Readonly<Record<string, LiveFigures>>;
  /** By campaign id: why its stream is down, when it is. */
  watchErrors: Readonly<Record<string, string>>;
}

export type CampaignEvent =
  | { kind: "listed"; campaigns: Campaign[]; truncated: boolean }
  | { kind: "progress"; response: WatchCampaignResponse; at: number }
  | { kind: "watch-error"; id: string; error: string }
  /** What an action's answer says the campaign is now (ahead of its stream). */
  | { kind: "changed"; campaign: Campaign }
  /** The stream buffered more than it may: list again. */
  | { kind: "overflow" };

export const EMPTY_CAMPAIGNS: CampaignsState = { campaigns: [], truncated: false, live: {}, watchErrors: {} };

/** Campaigns whose figures move, and so are watched. */
export function isActive(c: Campaign): boolean {
  return c.state === CampaignState.SENDING || c.state === CampaignState.PAUSED ||
    c.state === CampaignState.SCHEDULED;
}

function without<T>(record: Readonly<Record<string, T>>, id: string): Record<string, T> {
  const { [id]: _, ...rest } = record;
  return rest;
}

export function reduceCampaigns(
  state: CampaignsState,
  events: readonly CampaignEvent[],
): CampaignsState | typeof RESYNC {
  let next = state;
  for (const event of events) {
    switch (event.kind) {
      case "overflow":
        return RESYNC;
      case "listed": {
        const ids = new Set(event.campaigns.map((c) => c.id));
        const keep = <T>(r: Readonly<Record<string, T>>) =>
          Object.fromEntries(Object.entries(r).filter(([id]) => ids.has(id)));
        next = {
          campaigns: event.campaigns,
          truncated: event.truncated,
          live: keep(next.live),
          watchErrors: keep(next.watchErrors),
        };
        break;
      }
      case "progress": {
        const campaign = event.response.campaign;
        if (!campaign) break;
        const known = next.campaigns.some((c) => c.id === campaign.id);
        next = {
          ...next,
          campaigns: known
            ? next.campaigns.map((c) => (c.id === campaign.id ? campaign : c))
            : [campaign, ...next.campaigns],
          live: {
            ...next.live,
            [campaign.id]: {
              rate: event.response.ratePerSecond,
              etaSeconds: Number(event.response.etaSeconds),
              at: event.at,
            },
          },
          watchErrors: without(next.watchErrors, campaign.id),
        };
        break;
      }
      case "changed":
        next = {
          ...next,
          campaigns: next.campaigns.map((c) => (c.id === event.campaign.id ? event.campaign : c)),
        };
        break;
      case "watch-error":
        next = { ...next, watchErrors: { ...next.watchErrors, [event.id]: event.error } };
        break;
    }
  }
  return next;
}

/** Deliveries that are done, one way or the other. */
export function finished(stats: CampaignStats | undefined): bigint {
  return stats ? stats.sent + stats.failed + stats.skipped : 0n;
}

/** How far a campaign's (current run's) deliveries are, 0–1. */
export function progress(stats: CampaignStats | undefined): number {
  if (!stats || stats.total <= 0n) return 0;
  return Number(finished(stats)) / Number(stats.total);
}

const STATE_NAMES: Record<CampaignState, string> = {
  [CampaignState.UNSPECIFIED]: "—",
  [CampaignState.DRAFT]: "draft",
  [CampaignState.SCHEDULED]: "scheduled",
  [CampaignState.SENDING]: "sending",
  [CampaignState.PAUSED]: "paused",
  [CampaignState.COMPLETED]: "completed",
  [CampaignState.CANCELLED]: "cancelled",
};

export function campaignStateName(state: CampaignState): string {
  return STATE_NAMES[state] ?? "—";
}
