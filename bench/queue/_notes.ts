/** "How it was measured": the notes under the bench's table, from the run's parameters. */
import type { Parameters } from "./queue_bench.ts";

export function notes(p: Parameters, redisVersion: string, systemNotes: string[]): string[] {
  const limit = p.limitMs / 1000;
  return [
    `All systems on this one machine (2 cores shared with the other engineers' work: see the load average above), unpinned. taskmesh on its own database (made for the run) and the shared Redis ${redisVersion} (${p.taskmeshRedis}). Every phase starts from a clean slate: FLUSHDB of the system's Redis database (BullMQ, taskmesh), TRUNCATE of taskmesh's task tables and of graphile-worker's jobs, pg-boss's queue deleted. Phases alternate the order of the systems.`,
    ...systemNotes,
    `Tasks are no-ops: taskmesh's built-in \`noop\` handler in the real worker process (worker/main.ts); each peer's worker in its own Deno process (bench/queue/*_worker.ts) whose handler returns at once. Payload \`{}\`. BullMQ default job options (completed jobs kept) and worker defaults apart from concurrency. graphile-worker and pg-boss run under Deno through npm: imports (both ask for Node 22; the machine's Node is 20).`,
    `Enqueue, single: up to ${p.tasks} calls (taskmesh Enqueue over one HTTP/2 connection, ${
      p.taskmeshClient === "connect" ? "Connect protocol" : "gRPC"
    }, binary, with a tasks:enqueue API key; BullMQ Queue.add on one ioredis connection; graphile-worker addJob and pg-boss send on their pools), ${p.enqueueConcurrency} in flight; tasks / wall time from the first call to the last answer. Batched: up to ${p.tasks} tasks as EnqueueBatch / addBulk / addJobs / insert calls of ${p.batch}, one at a time. Enqueue happens with no worker running.`,
    `Processed per second: after the enqueue, one worker process at the given concurrency runs the tasks; the figure is tasks / (last finish − first start) as each system recorded them (taskmesh task_attempts.started_at and ended_at; BullMQ job.processedOn and finishedOn; pg-boss started_on and completed_on; graphile-worker, which keeps no finished job, the worker's first handler start and the bench first seeing the jobs table empty), so process start-up is not counted.`,
    `Time limit: an enqueue run issues no new call after ${limit} s, and a processing run drains its worker after ${limit} s (what it holds finishes and counts); rates are then over the tasks done, shown in the "tasks" column.`,
    `Enqueue → start: one task at a time on an idle system (worker concurrency ${p.latencyWorkerConcurrency}, ${p.latencyWarmup} warm-up tasks, then ${p.latencySamples} samples, ${p.latencyGapMs} ms pause after each start). Start = the worker's own "task started" line with its clock (taskmesh worker at --log-level=debug; every peer's handler prints the same line first thing), minus the client's clock just before the enqueue call; all clocks are this machine's, in whole ms. "Recorded start" uses the system's record instead: taskmesh's attempt started_at, BullMQ's job.processedOn, pg-boss's started_on.`,
    `Dead worker: worker A runs ${p.requeueTasks} sleep tasks, worker B (another process, same queue) is connected and idle; A gets SIGKILL; measured from the kill to each task's handler starting on B. taskmesh: a stream that ends gives its leases back at once, and the attempt counts as failed, so the retry waits its backoff (default: full jitter under 1 s) and the promoter's tick (250 ms). BullMQ with its defaults: lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1: a job comes back when a stalled-job check finds its lock expired. SIGSTOP (taskmesh only): the connection stays open, so the server notices only by missing heartbeats (interval 1 s, lease TTL 2 s). Limit ${
      p.requeueLimitMs / 1000
    } s. The Postgres peers are not run here: what brings a dead worker's jobs back is a timeout of minutes to hours (see n/a above).`,
    "Durability: Postgres runs with fsync and synchronous_commit on, so taskmesh, graphile-worker and pg-boss have every accepted task on disk before they answer; BullMQ on the default Redis only in memory; BullMQ (AOF always) in Redis's fsynced append-only file.",
  ];
}
