/**
 * Whether a rule's condition holds now, from the figures of one pass: a pure function of
 * the rule, what the sources report and what the previous pass remembered.
 */
import type { AlertRule, AlertState, AutoPausedCampaign, QueueFigures } from "./model.ts";

export interface Reading {
  active: boolean;
  /** In the unit of the rule's threshold. */
  value: number;
  /** One line for the notification and the TUI. */
  summary: string;
  /** What the next pass compares with (dead letters), and when the value last grew. */
  baseline: number | null;
  changedAt: number | null;
}

export interface Seen {
  queues: ReadonlyMap<string, QueueFigures>;
  campaigns: readonly AutoPausedCampaign[];
}

/** A queue nobody has used yet has no figures: all zero. */
function figuresOf(seen: Seen, queue: string): QueueFigures {
  return seen.queues.get(queue) ?? {
    name: queue,
    paused: false,
    queued: 0,
    dead: 0,
    oldestQueuedAgeMs: 0,
    succeededLastMinute: 0,
    failedLastMinute: 0,
    workers: 0,
  };
}

const plain = (active: boolean, value: number, summary: string): Reading => ({
  active,
  value,
  summary,
  baseline: null,
  changedAt: null,
});

export function readRule(
  rule: AlertRule,
  seen: Seen,
  previous: AlertState | undefined,
  now: number,
): Reading {
  if (rule.kind === "campaign_auto_paused") {
    const names = seen.campaigns.map((c) => `${c.name} (${c.reason})`).slice(0, 5).join(", ");
    const more = seen.campaigns.length > 5 ? ` and ${seen.campaigns.length - 5} more` : "";
    return plain(
      seen.campaigns.length > 0,
      seen.campaigns.length,
      seen.campaigns.length > 0
        ? `campaigns paused automatically: ${names}${more}`
        : "no campaign is auto-paused",
    );
  }
  const q = figuresOf(seen, rule.queue);
  switch (rule.kind) {
    case "dead_letters_growing": {
      const before = previous?.baseline ?? null;
      const grown = before === null ? 0 : q.dead - before;
      const step = Math.max(1, rule.threshold);
      const changedAt = grown > 0 ? now : previous?.changedAt ?? null;
      // Firing: holds until the count has stood still for the window. Not firing: one step's growth starts it.
      const active = previous?.firing
        ? grown > 0 || (changedAt !== null && now - changedAt < rule.windowMs)
        : grown >= step;
      return {
        active,
        value: q.dead,
        summary: `dead letters in ${rule.queue}: ${q.dead}` +
          (grown > 0 ? `, ${grown} new since the last check` : ", not growing"),
        baseline: q.dead,
        changedAt,
      };
    }
    case "oldest_queued_age": {
      const seconds = Math.floor(q.oldestQueuedAgeMs / 1000);
      return plain(
        seconds >= rule.threshold,
        seconds,
        `oldest task in ${rule.queue} waited ${seconds} s (threshold ${rule.threshold} s)`,
      );
    }
    case "no_worker":
      return plain(
        !q.paused && q.queued > 0 && q.workers === 0,
        q.queued,
        `${rule.queue} has ${q.queued} runnable task(s) and ${q.workers} worker(s)`,
      );
    case "error_rate": {
      const ended = q.succeededLastMinute + q.failedLastMinute;
      const rate = ended === 0 ? 0 : q.failedLastMinute / ended;
      return plain(
        ended > 0 && rate >= rule.threshold,
        rate,
        `${rule.queue}: ${q.failedLastMinute} of ${ended} attempts failed in the last minute ` +
          `(${(rate * 100).toFixed(1)}%, threshold ${(rule.threshold * 100).toFixed(1)}%)`,
      );
    }
  }
}
