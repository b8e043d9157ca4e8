/**
 * The task engine's metrics of this instance: its share of what happened to tasks
 * (counted from the engine's own task events, so no engine method counts anything
 * itself), its worker streams' slots, and the engine's counters (heartbeats, rebuilds,
 * throttled claims, loop failures) read at scrape time.
 *
 * Labels are bounded: `queue` (queues are few and named by operators), `worker` only on
 * gauges of the streams connected now, `limit` and `loop` from fixed sets. Task ids,
 * types and limit groups never become labels.
 */
import type { Clock } from "../clock.ts";
import type { TaskRecord } from "../tasks/model.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { MetricsRegistry } from "./metrics.ts";

/** Seconds, from a fast handler to the longest task timeout. */
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds a due task waited for a worker. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];
/**
 * Start times of the attempts running here, to time them when they end. A task that ends
 * on another instance leaves its entry behind; past this many the map starts afresh
 * (those attempts go untimed) rather than grow.
 */
const MAX_TRACKED_RUNS = 100_000;

const FAILED_STATES = new Set<TaskRecord["state"]>(["scheduled", "queued", "failed", "dead"]);

export function observeTasks(registry: MetricsRegistry, runtime: TasksRuntime, clock: Clock): void {
  const enqueued = registry.counter(
    "taskmesh_tasks_enqueued_total",
    "Tasks accepted by this instance, by queue (new tasks, manual retries and requeued dead letters).",
  );
  const started = registry.counter("taskmesh_tasks_started_total", "Attempts started here, by queue.");
  const succeeded = registry.counter("taskmesh_tasks_succeeded_total", "Attempts that succeeded, by queue.");
  const failed = registry.counter(
    "taskmesh_tasks_failed_total",
    "Attempts that ended without success (an error, a timeout, a lost lease), by queue.",
  );
  const dead = registry.counter("taskmesh_tasks_dead_total", "Tasks moved to the dead letters, by queue.");
  const cancelled = registry.counter("taskmesh_tasks_cancelled_total", "Tasks cancelled, by queue.");
  const leasesLost = registry.counter(
    "taskmesh_worker_leases_lost_total",
    "Leases that expired because their worker went silent or away, by queue.",
  );
  const runSeconds = registry.histogram(
    "taskmesh_task_run_duration_seconds",
    "How long attempts ran, from their start to their end, by queue.",
    RUN_BUCKETS,
  );
  const waitSeconds = registry.histogram(
    "taskmesh_task_start_delay_seconds",
    "How long a task waited from being due (enqueued, or its run time) to starting, by queue.",
    WAIT_BUCKETS,
  );
  const runningSince = new Map<string, number>();

  runtime.onTask((task, previous) => {
    const queue = { queue: task.queue };
    const now = clock.now();
    if (previous === undefined) {
      // Progress and cancels come without a previous state too: only a task now waiting to run was accepted.
      if (task.state === "queued" || task.state === "scheduled" || task.state === "waiting") {
        enqueued.inc(queue);
      }
    } else if (task.state === "running") {
      started.inc(queue);
      waitSeconds.observe(Math.max(0, now - Math.max(task.createdAt, task.runAt)) / 1000, queue);
      if (runningSince.size >= MAX_TRACKED_RUNS) runningSince.clear();
      runningSince.set(task.id, now);
    } else if (previous === "running") {
      if (task.state === "succeeded") succeeded.inc(queue);
      else if (FAILED_STATES.has(task.state)) failed.inc(queue);
      if (task.state !== "succeeded" && task.lastError?.code === "lease_expired") leasesLost.inc(queue);
      const since = runningSince.get(task.id);
      if (since !== undefined) runSeconds.observe(Math.max(0, now - since) / 1000, queue);
    }
    if (task.state === "dead" && previous === "running") dead.inc(queue);
    if (task.state === "cancelled") cancelled.inc(queue);
    if (task.state !== "running") runningSince.delete(task.id);
  });

  observeEngine(registry, runtime, clock);
}

/** Gauges of this instance's worker streams and the engine's own counters, read at scrape time. */
function observeEngine(registry: MetricsRegistry, runtime: TasksRuntime, clock: Clock): void {
  const { counters } = runtime;
  const connected = registry.gauge(
    "taskmesh_workers_connected",
    "Worker streams this instance holds (sum over instances: every connected worker).",
  );
  const slots = registry.gauge(
    "taskmesh_worker_slots",
    "Slots of each worker connected to this instance, busy (holding a lease) or free.",
  );
  const heartbeatAge = registry.gauge(
    "taskmesh_worker_heartbeat_age_seconds",
    "Seconds since each worker connected to this instance last sent a heartbeat (or connected).",
  );
  const heartbeats = registry.counter(
    "taskmesh_worker_heartbeats_total",
    "Heartbeats received from the workers connected to this instance.",
  );
  const rebuilds = registry.counter(
    "taskmesh_broker_rebuilds_total",
    "Times this instance rebuilt the broker (Redis) from Postgres.",
  );
  const throttled = registry.counter(
    "taskmesh_task_claims_throttled_total",
    "Claims a queue's or a limit group's limit kept short, by the kind of limit (rate or concurrency).",
  );
  const loopFailures = registry.counter(
    "taskmesh_loop_iteration_failures_total",
    "Failed iterations of the task engine's background loops, by loop.",
  );
  registry.collect("workers", () => {
    const local = runtime.localSlots();
    connected.set(local.length);
    slots.clear();
    heartbeatAge.clear();
    const now = clock.now();
    for (const w of local) {
      heartbeatAge.set(Math.max(0, now - w.lastHeartbeat) / 1000, { worker: w.workerId });
      slots.set(w.busy, { worker: w.workerId, state: "busy" });
      slots.set(Math.max(0, w.concurrency - w.busy), { worker: w.workerId, state: "free" });
    }
    // Counters copied from the engine's plain numbers: the hot path pays one addition, not a map lookup.
    heartbeats.inc({}, counters.heartbeats - heartbeats.get());
    rebuilds.inc({}, counters.brokerRebuilds - rebuilds.get());
    for (const limit of ["rate", "concurrency"] as const) {
      throttled.inc({ limit }, counters.throttled[limit] - throttled.get({ limit }));
    }
    for (const [loop, n] of counters.loopFailures) loopFailures.inc({ loop }, n - loopFailures.get({ loop }));
  });
}
