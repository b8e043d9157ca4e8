/**
 * The schedules' domain types. A schedule fires its task on ticks (a cron expression in a
 * time zone, a fixed interval aligned to an anchor, or once); every tick is handled once,
 * fenced by the tick's idempotency key (schedule id + tick time) on the task it makes.
 */

export type OverlapPolicy = "allow" | "skip" | "buffer_one" | "cancel_previous";
export type CatchUpPolicy = "skip" | "latest" | "all";
export type FireOutcome = "enqueued" | "buffered" | "skipped" | "failed";

/** When a schedule ticks: exactly one kind. Times are milliseconds since the epoch. */
export type Timing =
  | { kind: "cron"; cron: string; timeZone: string }
  | { kind: "interval"; intervalMs: number; anchorAt: number }
  | { kind: "once"; at: number };

/** Everything a caller defines (Create and Update take it whole). */
export interface ScheduleDefinition {
  name: string;
  timing: Timing;
  /** No tick before / after these, when set. */
  startAt: number | null;
  endAt: number | null;
  jitterMs: number;
  /** The TaskSpec to enqueue, as protobuf binary (validated before it is stored). */
  taskSpec: Uint8Array;
  overlap: OverlapPolicy;
  catchUp: CatchUpPolicy;
  catchUpWindowMs: number;
  catchUpLimit: number;
  labels: Record<string, string>;
}

export interface Fire {
  scheduleId: string;
  tickAt: number;
  manual: boolean;
  firedAt: number;
  taskId: string | null;
  outcome: FireOutcome;
  message: string;
  /** The task's state now (reads join it); null when there is none. */
  taskState: string | null;
}

export interface ScheduleRecord extends ScheduleDefinition {
  id: string;
  paused: boolean;
  pauseNote: string;
  nextFireAt: number | null;
  lastFireAt: number | null;
  lastTaskId: string | null;
  /** Set while an instance fires `pendingTicks` (a claim past its time: that instance died). */
  claimedUntil: number | null;
  pendingTicks: number[];
  createdAt: number;
  updatedAt: number;
  lastFire: Fire | null;
}

/** Defaults and bounds of the definition's numbers. */
export const CATCH_UP_WINDOW_MS = { min: 1000, max: 7 * 24 * 3600_000, default: 3600_000 };
export const CATCH_UP_LIMIT = { min: 1, max: 1000, default: 100 };
export const JITTER_MS = { min: 0, max: 3600_000 };
export const INTERVAL_MS = { min: 1000, max: 366 * 24 * 3600_000 };
export const NAME_MAX_CHARS = 128;
export const NOTE_MAX_CHARS = 500;
export const CRON_MAX_CHARS = 200;
/** The most schedules one deployment holds: every list and scan is bounded by it. */
export const MAX_SCHEDULES = 100_000;

/**
 * A tick this close behind the clock is on time: the loop's normal lag. Older ticks were
 * missed (an outage or a pause) and follow the catch-up policy.
 */
export const ON_TIME_GRACE_MS = 5000;

/** The idempotency key of a tick's task: the fence against a second enqueue of the same tick. */
export function tickKey(scheduleId: string, tickAt: number, manual: boolean): string {
  return `schedule:${scheduleId}:${manual ? "trigger:" : ""}${new Date(tickAt).toISOString()}`;
}

/** Labels every fire's task carries besides the spec's own. */
export function fireLabels(scheduleId: string, tickAt: number): Record<string, string> {
  return { "schedule": scheduleId, "schedule_tick": new Date(tickAt).toISOString() };
}

/** States in which a task has not ended yet. */
export function unfinished(state: string | null): boolean {
  return state === "waiting" || state === "scheduled" || state === "queued" || state === "running";
}
