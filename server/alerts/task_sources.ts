/** The evaluator's queue figures, from the task engine: its queue stats and its connected workers. */
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { QueueFigures } from "./model.ts";

/** The engine reports attempts per second over the last minute; the rules count them. */
const PER_MINUTE = 60;

export function engineQueues(rt: TasksRuntime): () => Promise<QueueFigures[]> {
  return async () => {
    const [stats, workers] = await Promise.all([rt.queueStats(), rt.workers()]);
    return stats.map((q) => ({
      name: q.name,
      paused: q.paused,
      queued: q.queued,
      dead: q.dead,
      oldestQueuedAgeMs: q.oldestQueuedAgeMs,
      succeededLastMinute: Math.round(q.processedPerSecond * PER_MINUTE),
      failedLastMinute: Math.round(q.failedPerSecond * PER_MINUTE),
      workers: workers.filter((w) => w.queues.includes(q.name)).length,
    }));
  };
}
