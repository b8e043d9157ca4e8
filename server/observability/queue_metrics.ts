/**
 * The queue-wide gauges: how many tasks each queue holds by state, its oldest queued
 * task's age and whether it is paused, read from Postgres at scrape time. They describe
 * the whole deployment, not one instance, so only the instance holding the reporter
 * lease (reporter_lease.ts) shows them; `taskmesh_metrics_reporter` says which one does.
 */
import type { QueueStats } from "../tasks/model.ts";
import type { MetricsRegistry } from "./metrics.ts";
import type { ReporterLease } from "./reporter_lease.ts";

const STATES = ["waiting", "scheduled", "queued", "running", "dead"] as const;

export function observeQueues(
  registry: MetricsRegistry,
  queueStats: () => Promise<QueueStats[]>,
  lease: ReporterLease,
): void {
  const reporter = registry.gauge(
    "taskmesh_metrics_reporter",
    "1 on the instance that reports the queue-wide gauges (taskmesh_queue_*), 0 on the others.",
  );
  const tasks = registry.gauge("taskmesh_queue_tasks", "Tasks in each queue, by state (queue-wide).");
  const oldest = registry.gauge(
    "taskmesh_queue_oldest_queued_age_seconds",
    "Age of each queue's oldest runnable task, 0 when none (queue-wide).",
  );
  const paused = registry.gauge("taskmesh_queue_paused", "1 when the queue is paused (queue-wide).");
  registry.collect("queues", async () => {
    tasks.clear();
    oldest.clear();
    paused.clear();
    // Unknown (Redis unreachable) reads as not reporting: the lease is not renewed either.
    reporter.set(0);
    const holds = await lease.holds();
    reporter.set(holds ? 1 : 0);
    if (!holds) return;
    for (const q of await queueStats()) {
      for (const state of STATES) tasks.set(q[state], { queue: q.name, state });
      oldest.set(q.oldestQueuedAgeMs / 1000, { queue: q.name });
      paused.set(q.paused ? 1 : 0, { queue: q.name });
    }
  });
}
