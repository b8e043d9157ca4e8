/**
 * The port through which a recurring campaign gets its ticks. The schedules module
 * (another branch) can implement it: `arm` creates a schedule whose fire enqueues a
 * `campaign.run` task (payload {campaign_id}) or calls `CampaignRunner.startRun(id, tick)`
 * directly, and returns null so the runner's own loop fires nothing. Until then the
 * local implementation below computes the ticks with croner and the runner's loop fires
 * them from `campaigns.next_run_at` (one run per campaign and tick, whichever instance
 * fires first).
 */
import { Cron } from "croner";

export interface CronSpec {
  expression: string;
  timeZone: string;
}

export interface RecurringPort {
  /**
   * A recurring campaign was launched: the first tick the runner's loop should fire
   * (ms), or null when the port itself will call startRun for every tick.
   */
  arm(campaignId: string, cron: CronSpec, now: number): Promise<number | null>;
  /** The tick after `tick`, for the runner's loop (only when arm returned one). */
  next(cron: CronSpec, tick: number): number | null;
  /** The campaign was cancelled: no more ticks. */
  disarm(campaignId: string): Promise<void>;
}

/** A problem with a cron expression or time zone, or undefined when croner accepts both. */
export function cronProblem(cron: CronSpec): string | undefined {
  try {
    new Cron(cron.expression, { timezone: cron.timeZone, paused: true });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function nextAfter(cron: CronSpec, after: number): number | null {
  const next = new Cron(cron.expression, { timezone: cron.timeZone, paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** The next tick after `after`, for display when the port fires ticks itself. */
export function nextTick(cron: CronSpec, after: number): number | null {
  try {
    return nextAfter(cron, after);
  } catch {
    return null;
  }
}

/** Ticks from croner, fired by the runner's loop. */
export const localRecurring: RecurringPort = {
  arm: (_id, cron, now) => Promise.resolve(nextAfter(cron, now)),
  next: (cron, tick) => nextAfter(cron, tick),
  disarm: () => Promise.resolve(),
};
