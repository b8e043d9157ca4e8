/**
 * Alert rules, what their evaluation remembers between two passes, and the ports the
 * evaluator reads the world through: the task engine's queue figures, and the
 * campaigns' auto-pauses (wired by whoever composes the process; none by default).
 */
export type AlertKind =
  | "dead_letters_growing"
  | "oldest_queued_age"
  | "no_worker"
  | "error_rate"
  | "campaign_auto_paused";

export const ALERT_KINDS: readonly AlertKind[] = [
  "dead_letters_growing",
  "oldest_queued_age",
  "no_worker",
  "error_rate",
  "campaign_auto_paused",
];

export interface AlertRule {
  id: string;
  name: string;
  kind: AlertKind;
  /** "" for campaign_auto_paused. */
  queue: string;
  threshold: number;
  /** dead_letters_growing: how long without growth before resolved. */
  windowMs: number;
  /** Exactly one of emailTo and webhookUrl is set. */
  emailTo: string;
  webhookUrl: string;
  silenceMs: number;
  createdAt: number;
}

export interface AlertState {
  ruleId: string;
  firing: boolean;
  /** When the current (or last) firing began. */
  since: number | null;
  /** Whether the current firing was notified; a resolution is sent only for one that was. */
  notified: boolean;
  /** The last firing notification: the silence window counts from it. */
  notifiedAt: number | null;
  value: number;
  /** The value the previous pass saw (dead letters grow from it); null before the first pass. */
  baseline: number | null;
  /** When the value last grew (dead letters). */
  changedAt: number | null;
  summary: string;
  evaluatedAt: number;
}

/** A firing alert as ListFiringAlerts and the TUI show it. */
export interface FiringAlert {
  rule: AlertRule;
  state: AlertState;
}

/** One queue's figures, as the task engine reports them (TasksRuntime.queueStats, workers). */
export interface QueueFigures {
  name: string;
  paused: boolean;
  queued: number;
  dead: number;
  oldestQueuedAgeMs: number;
  /** Attempts that succeeded and that failed over the last minute. */
  succeededLastMinute: number;
  failedLastMinute: number;
  /** Connected workers serving it, on any instance. */
  workers: number;
}

/** A campaign the campaign engine paused by itself (too many bounces, a failing template). */
export interface AutoPausedCampaign {
  id: string;
  name: string;
  reason: string;
}

/**
 * The campaigns' side of the `campaign_auto_paused` rule. The campaign engine implements
 * it (CampaignsRuntime.autoPaused, wired in server/runtimes.ts); a process without
 * campaigns gets `NO_CAMPAIGNS`, which reports none.
 */
export interface CampaignPauses {
  autoPaused(): Promise<AutoPausedCampaign[]>;
}

export const NO_CAMPAIGNS: CampaignPauses = { autoPaused: () => Promise.resolve([]) };

/** What the evaluator reads: every queue's figures, and the auto-paused campaigns. */
export interface AlertSources {
  queues(): Promise<QueueFigures[]>;
  campaigns: CampaignPauses;
}
