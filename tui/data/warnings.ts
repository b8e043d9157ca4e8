/**
 * What the Overview warns about, derived from the queue figures, their history and
 * the workers. Pure.
 */
import type { QueuesState } from "./queues_reducer.ts";
import { shortDuration } from "./format.ts";

export interface Warning {
  /** "error" wants action now; "warn" wants a look. */
  level: "error" | "warn";
  queue?: string;
  text: string;
}

/** How many recent snapshots the "growing" check looks back over. */
const LOOKBACK = 5;

export function queueWarnings(state: QueuesState): Warning[] {
  const warnings: Warning[] = [];
  if (state.snapshots > 0 && state.workerCount === 0) {
    warnings.push({ level: "warn", text: "no worker is connected" });
  }
  for (const q of state.queues) {
    const ready = q.queued + q.scheduled;
    if (ready > 0 && q.workerCount === 0 && !q.paused) {
      warnings.push({
        level: "error",
        queue: q.name,
        text: `queue ${q.name} has work (${ready} tasks) but no worker`,
      });
    }
    if (q.paused && q.queued > 0) {
      warnings.push({
        level: "warn",
        queue: q.name,
        text: `queue ${q.name} is paused with ${q.queued} queued`,
      });
    }
    const dead = state.history[q.name]?.dead.slice(-LOOKBACK) ?? [];
    if (dead.length >= 2 && dead.at(-1)! > dead[0]) {
      warnings.push({
        level: "error",
        queue: q.name,
        text: `dead letters growing in ${q.name} (+${dead.at(-1)! - dead[0]}, now ${q.dead})`,
      });
    }
    if (q.failedPerSecond > 0 && q.failedPerSecond > q.processedPerSecond) {
      warnings.push({
        level: "warn",
        queue: q.name,
        text: `queue ${q.name} fails more attempts than it finishes`,
      });
    }
    if (q.oldestQueuedMs > 5 * 60_000 && !q.paused) {
      warnings.push({
        level: "warn",
        queue: q.name,
        text: `oldest task in ${q.name} has waited ${shortDuration(q.oldestQueuedMs)}`,
      });
    }
  }
  // What wants action now first; the order among equals is the queues' (by name).
  return warnings.sort((a, b) => (a.level === b.level ? 0 : a.level === "error" ? -1 : 1));
}
