/**
 * The TaskStore on Postgres (or the embedded PGlite, which runs the same SQL). Each
 * method is one transaction; changes of a running task are fenced by its lease id, and a
 * task that ends settles its waiting dependents in the same transaction, so no state a
 * worker, an operator or a dependency sees is ever half-applied.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { BrokerTask } from "../broker/broker.ts";
import type { Sql } from "../db/postgres.ts";
import { enqueueTasks } from "./_pg_enqueue.ts";
import { insertSealedPayloads, openSealedPayloads, SealedCache } from "./sealed_payloads.ts";
import {
  selectAllLimits,
  selectGroups,
  selectTypeDefaultsPage,
  upsertGroupLimits,
  upsertQueueLimits,
  upsertTypeDefaults,
} from "./limit_queries.ts";
import {
  decodeTaskPageToken,
  encodeTaskPageToken,
  judgeDependencies,
  retryDelayMs,
  TASK_ID,
} from "./_task_rules.ts";
import {
  cancelWaitingTasks,
  deleteDependencies,
  lockWaitingDependents,
  releaseWaitingTasks,
  selectDependencyStates,
} from "./dependency_queries.ts";
import type {
  Page,
  QueueStats,
  ResultToRecord,
  TaskError,
  TaskFilter,
  TaskRecord,
  TaskState,
  TaskStore,
  Transition,
} from "./model.ts";
import {
  selectPausedQueues,
  selectQueueFlags,
  selectQueueStats,
  upsertQueuePaused,
} from "./queue_queries.ts";
import { claimedAtOfLeaseId } from "../broker/_lease_id.ts";
import { ClaimCache } from "./_claim_cache.ts";
import {
  type AttemptEnd,
  type ChangedTaskRow,
  lockTasks,
  markTaskCancelled,
  markTaskDead,
  markTasksSucceeded,
  scheduleTaskRetry,
  selectAttempts,
  selectClaimed,
  selectLeasedTaskForUpdate,
  selectTasksWithDependents,
  startTasks,
  updateProgress,
} from "./attempt_queries.ts";
import {
  type Db,
  deleteTasks,
  listTasks,
  type LiveTaskRow,
  requeueTasks,
  selectDeadTasksForUpdate,
  selectLiveTasks,
  selectQueueDeadTasksForUpdate,
  selectRunningLeases,
  selectStaleRunning,
  selectTask,
  selectTaskForUpdate,
  type TaskRow,
  toAttemptRecord,
  toTaskRecord,
} from "./task_queries.ts";
import { beginPipelined } from "./_pipelined_tx.ts";

/** The window of processedPerSecond and failedPerSecond. */
export const RATE_WINDOW_MS = 60_000;
const BROKER_STATE_BATCH = 500;

const CANCELLABLE: ReadonlySet<TaskState> = new Set(["waiting", "scheduled", "queued", "running"]);
const RETRYABLE: TaskState[] = ["failed", "dead", "cancelled"];

/**
 * TaskStore with one addition the interface lacks: cancelling a task can release
 * dependents waiting on it (on_failure, always), and they must reach the broker too.
 */
export interface PgTaskStore extends TaskStore {
  cancel(
    taskId: string,
    reason: string,
    now: number,
  ): Promise<{ task: TaskRecord; runningLease: string | null; runnable: BrokerTask[] }>;
  /** The tasks as their Assign carries them: sealed payloads opened (sealed_payloads.ts). */
  openPayloads(tasks: TaskRecord[], now: number): Promise<TaskRecord[]>;
}

/** Pages through live rows by seq, as the broker needs them. */
async function* liveRows(page: (afterSeq: number) => Promise<LiveTaskRow[]>) {
  let after = 0;
  while (true) {
    const rows = await page(after);
    for (const row of rows) {
      yield {
        task: brokerTask(row),
        lease: row.lease_id === null ? null : { leaseId: row.lease_id, workerId: row.worker_id ?? "" },
      };
    }
    if (rows.length < BROKER_STATE_BATCH) return;
    after = Number(rows[rows.length - 1].seq);
  }
}

function brokerTask(
  row: Pick<TaskRow, "id" | "queue" | "priority" | "seq" | "run_at" | "type" | "limit_group">,
): BrokerTask {
  return {
    id: row.id,
    queue: row.queue,
    priority: row.priority,
    seq: Number(row.seq),
    runAt: row.run_at.getTime(),
    type: row.type,
    group: row.limit_group ?? "",
  };
}

function bySeq(a: TaskRow, b: TaskRow): number {
  return Number(a.seq) - Number(b.seq);
}

function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

/**
 * Settles the waiting dependents of tasks that just ended, generation by generation: a
 * dependent cancelled because its condition can no longer hold has ended too. Returns
 * the dependents released (now queued or scheduled), in seq order.
 */
async function settleDependents(tx: Db, ended: string[], now: number): Promise<TaskRow[]> {
  const released: TaskRow[] = [];
  let frontier = ended;
  while (frontier.length > 0) {
    // Lock first, then read the dependencies' states in a later statement, whose snapshot
    // includes whatever a concurrent end committed while we waited for the lock.
    const waiting = await lockWaitingDependents(tx, frontier);
    const release: string[] = [];
    const cancel: string[] = [];
    for (const d of await selectDependencyStates(tx, waiting)) {
      const verdict = judgeDependencies(d.condition, d.states);
      if (verdict === "release") release.push(d.id);
      else if (verdict === "cancel") cancel.push(d.id);
    }
    released.push(...await releaseWaitingTasks(tx, release, now));
    frontier = (await cancelWaitingTasks(tx, cancel, now)).map((r) => r.id);
  }
  return released.sort(bySeq);
}

async function endedTransition(tx: Db, task: ChangedTaskRow, now: number): Promise<Transition> {
  const released = task.has_dependents ? await settleDependents(tx, [task.id], now) : [];
  return { task: toTaskRecord(task), runnable: released.map(brokerTask) };
}

/**
 * Codes a worker answers an Assign with when it never ran the task (docs/WORKERS.md): an
 * Assign that reached it draining, or beyond its credits. Such a refusal is not an attempt.
 */
const REFUSALS: ReadonlySet<string> = new Set(["worker_draining", "no_free_slot"]);

/**
 * A failed attempt (or an expired lease) counts: retried after backoff while attempts
 * remain, else dead. A worker's refusal is retried after the same backoff (so a worker that
 * keeps refusing cannot spin the task) without counting.
 */
async function failedTransition(
  tx: Db,
  task: TaskRow,
  error: TaskError,
  end: AttemptEnd,
  now: number,
  random: () => number,
): Promise<Transition> {
  const refused = end.outcome === "failed" && error.retryable && REFUSALS.has(error.code);
  if (refused || (error.retryable && task.attempt_count < task.max_attempts)) {
    const backoff = {
      initialMs: Number(task.backoff_initial_ms),
      maxMs: Number(task.backoff_max_ms),
      multiplier: task.backoff_multiplier,
    };
    const runAt = now + retryDelayMs(backoff, task.attempt_count, random);
    const scheduled = await scheduleTaskRetry(tx, task.id, runAt, error, end, now, refused);
    return { task: toTaskRecord(scheduled), runnable: [brokerTask(scheduled)] };
  }
  return await endedTransition(tx, await markTaskDead(tx, task.id, error, end, now), now);
}

const EXPIRED_ERRORS: Record<"lease_expired" | "timed_out", TaskError> = {
  lease_expired: {
    message: "lease expired: the worker went away or stopped heartbeating",
    code: "lease_expired",
    retryable: true,
  },
  timed_out: {
    message: "attempt timed out: it ran past the task's timeout",
    code: "timed_out",
    retryable: true,
  },
};

/** Records, in the caller's transaction, the starts of these results' attempts that Postgres never saw. */
async function recordUnrecorded(tx: Db, results: readonly ResultToRecord[], now: number): Promise<void> {
  const byWorker = new Map<string, ResultToRecord[]>();
  for (const r of results) {
    if (r.version === undefined || r.workerId === undefined) continue;
    byWorker.set(r.workerId, [...byWorker.get(r.workerId) ?? [], r]);
  }
  for (const [workerId, list] of byWorker) await startTasks(tx, list, workerId, now);
}

export function createTaskStore(sql: Sql): PgTaskStore {
  // Queues whose row is known to exist (rows are never deleted): enqueue skips inserting them.
  const knownQueues = new Set<string>();
  // Tasks enqueued here that no claim has read yet: their Assign needs no read (_claim_cache.ts).
  const claimCache = new ClaimCache();
  // The secrets of those tasks, so their Assign reads none back either (sealed_payloads.ts).
  const sealedCache = new SealedCache();

  /** Dead letters to requeue or purge, locked; any named id that is not one is refused by name. */
  async function lockDeadLetters(tx: Db, queue: string, ids: string[], all: boolean): Promise<TaskRow[]> {
    if (all && queue === "") {
      throw new ConnectError("queue: is required with all: name the queue to empty", Code.InvalidArgument);
    }
    const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
    const rows = all
      ? await selectQueueDeadTasksForUpdate(tx, queue)
      : await selectDeadTasksForUpdate(tx, queue, wanted.filter((id) => TASK_ID.test(id)));
    const found = new Set(rows.map((r) => r.id));
    const missing = wanted.filter((id) => !found.has(id));
    if (missing.length > 0) {
      const verb = missing.length === 1 ? "is not a dead letter" : "are not dead letters";
      const where = queue ? ` of queue ${queue}` : "";
      throw failedPrecondition(`task ${missing.join(", ")} ${verb}${where}: list them with ListDeadLetters`);
    }
    return rows;
  }

  const store: PgTaskStore = {
    async enqueue(tasks, now) {
      // With no idempotency key, no dependency and only known queues, enqueueTasks sends one
      // multi-row insert, atomic by itself: BEGIN and COMMIT would only add two round trips.
      const oneStatement = tasks.every((t) =>
        t.idempotencyKey === "" && t.dependsOn.length === 0 && t.dependsOnBatchIndex.length === 0 &&
        knownQueues.has(t.queue) && !t.sealed
      );
      const result = oneStatement
        ? await enqueueTasks(sql, tasks, now, knownQueues)
        : await sql.begin(async (tx) => {
          const stored = await enqueueTasks(tx, tasks, now, knownQueues);
          // A sealed secret is written with its task, before any broker or worker hears of it.
          await insertSealedPayloads(tx, tasks, stored, now);
          return stored;
        });
      for (const t of tasks) knownQueues.add(t.queue);
      result.tasks.forEach((t, i) => {
        const version = result.versions.get(t.id);
        if (!result.duplicates[i] && version !== undefined) claimCache.put(t, version);
        const sealed = tasks[i].sealed;
        if (!result.duplicates[i] && sealed) sealedCache.put(t.id, sealed, now);
      });
      return { tasks: result.tasks, duplicates: result.duplicates };
    },

    openPayloads: (tasks, now) => openSealedPayloads(sql, tasks, now, sealedCache),

    async get(id) {
      if (!TASK_ID.test(id)) return null;
      // One snapshot: a start recorded between two plain reads would show an attempt the task's
      // attempt count does not have yet.
      return await sql.begin("isolation level repeatable read read only", async (tx) => {
        const row = await selectTask(tx, id);
        if (!row) return null;
        return { task: toTaskRecord(row), attempts: (await selectAttempts(tx, id)).map(toAttemptRecord) };
      });
    },

    async list(filter: TaskFilter, pageSize, pageToken): Promise<Page<TaskRecord>> {
      const after = decodeTaskPageToken(pageToken);
      const limit = Math.max(1, pageSize);
      const rows = await listTasks(sql, { ...filter, after, limit: limit + 1 });
      const items = rows.slice(0, limit).map(toTaskRecord);
      const last = items.at(-1);
      return {
        items,
        nextPageToken: rows.length > limit && last ? encodeTaskPageToken(last) : "",
      };
    },

    async start(taskId, leaseId, workerId, now) {
      const [task] = await store.startMany([{ taskId, leaseId }], workerId, now);
      return task ?? null;
    },

    async readClaimed(leases, workerId, now) {
      const known = new Map<string, { task: TaskRecord; version: string }>();
      for (const l of leases) {
        const entry = claimCache.take(l.taskId, now);
        if (entry) known.set(l.taskId, entry);
      }
      const misses = leases.map((l) => l.taskId).filter((id) => !known.has(id) && TASK_ID.test(id));
      for (const row of await selectClaimed(sql, misses, now)) {
        known.set(row.id, { task: toTaskRecord(row), version: row.version });
      }
      return leases.flatMap((l) => {
        const entry = known.get(l.taskId);
        if (!entry) return [];
        const { task, version } = entry;
        const running: TaskRecord = {
          ...task,
          state: "running",
          leaseId: l.leaseId,
          workerId,
          attemptCount: task.attemptCount + 1,
          attemptNumber: task.attemptNumber + 1,
          updatedAt: now,
          progress: null,
        };
        return [{ ...running, previousState: task.state, version }];
      });
    },

    async recordStarts(starts, workerId, now) {
      const rows = await startTasks(sql, starts.filter((s) => TASK_ID.test(s.taskId)), workerId, now);
      return new Set(rows.map((r) => r.id));
    },

    async startMany(leases, workerId, now) {
      const rows = await startTasks(sql, leases.filter((l) => TASK_ID.test(l.taskId)), workerId, now);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return leases.flatMap((l) => {
        const row = byId.get(l.taskId);
        return row ? [{ ...toTaskRecord(row), previousState: row.previous_state }] : [];
      });
    },

    async finish(taskId, leaseId, result, now, random) {
      const { tasks: [task], runnable } = await store.finishMany([{ taskId, leaseId, result }], now, random);
      return task ? { task, runnable } : null;
    },

    async finishMany(results, now, random) {
      const fenced = results.filter((r) => TASK_ID.test(r.taskId));
      const failures = fenced.filter((r) => !r.result.ok);
      const body = async (tx: Db) => {
        const ended = new Map<string, TaskRecord>();
        const runnable: BrokerTask[] = [];
        // Failures lock their rows one by one after the successes: all first, in id order, so the
        // transaction never holds one and waits for another that an enqueue has share-locked.
        if (failures.length > 0) {
          await lockTasks(tx, fenced.map((r) => r.taskId));
          // A failure whose start was never recorded gets it first (fenced by its version), then ends as any.
          await recordUnrecorded(tx, failures, now);
        }
        // Successes in one statement; their dependents are settled together below.
        const successes = fenced.flatMap((r) => r.result.ok ? [{ ...r, output: r.result.output }] : []);
        // With no failure to take in between, the edges' read goes right behind the change, pipelined on
        // the connection: still a later statement, so its snapshot has what committed while the change waited.
        const [succeeded, edgesRead] = await Promise.all([
          markTasksSucceeded(tx, successes, now),
          failures.length === 0 ? selectTasksWithDependents(tx, successes.map((r) => r.taskId)) : undefined,
        ]);
        for (const row of succeeded) ended.set(row.id, toTaskRecord(row));
        // Failures are few and each decides its own retry or death: one by one, still in this transaction.
        for (const r of fenced) {
          if (r.result.ok) continue;
          const row = await selectLeasedTaskForUpdate(tx, r.taskId, r.leaseId);
          if (!row) continue;
          const outcome = r.result.timedOut ? "timed_out" as const : "failed" as const;
          const end = { leaseId: r.leaseId, outcome, error: r.result.error };
          const transition = await failedTransition(tx, row, r.result.error, end, now, random);
          ended.set(row.id, transition.task);
          runnable.push(...transition.runnable);
        }
        // A later statement than the change, so edges of enqueues that committed meanwhile show.
        const edges = edgesRead ?? await selectTasksWithDependents(tx, succeeded.map((r) => r.id));
        const withDependents = succeeded.map((r) => r.id).filter((id) => edges.has(id));
        const released = await settleDependents(tx, withDependents.sort(), now);
        runnable.push(...released.map(brokerTask));
        return { ended, runnable };
      };
      // Successes alone: the change and the edges' read go out with BEGIN, in one write.
      const done = failures.length === 0 ? await beginPipelined(sql, body) : await sql.begin(body);
      // An attempt ended: a secret still kept (its Assign came from another instance) has no use here.
      for (const id of done.ended.keys()) sealedCache.delete(id);
      return {
        tasks: results.map((r) => done.ended.get(r.taskId) ?? null),
        runnable: done.runnable,
      };
    },

    async expire(taskId, leaseId, outcome, now, random, unrecorded) {
      if (!TASK_ID.test(taskId)) return null;
      return await sql.begin(async (tx) => {
        // Known by its version, or by its claim time (the lease id's): a lease whose start Postgres
        // never saw counts, as its worker had it; one with neither is not recorded.
        const startedAt = claimedAtOfLeaseId(leaseId);
        if (unrecorded && (unrecorded.version !== undefined || startedAt !== undefined)) {
          const start = { taskId, leaseId, version: unrecorded.version, startedAt };
          await startTasks(tx, [start], unrecorded.workerId, now);
        }
        const row = await selectLeasedTaskForUpdate(tx, taskId, leaseId);
        if (!row) return null;
        const error = EXPIRED_ERRORS[outcome];
        return await failedTransition(tx, row, error, { leaseId, outcome, error }, now, random);
      });
    },

    async progress(taskId, leaseId, percent, message, now) {
      if (!TASK_ID.test(taskId)) return false;
      return await updateProgress(sql, taskId, leaseId, percent, message, now);
    },

    async cancel(taskId, reason, now) {
      const notFound = () => new ConnectError(`task ${taskId} does not exist`, Code.NotFound);
      if (!TASK_ID.test(taskId)) throw notFound();
      claimCache.delete(taskId);
      sealedCache.delete(taskId);
      return await sql.begin(async (tx) => {
        const row = await selectTaskForUpdate(tx, taskId);
        if (!row) throw notFound();
        if (!CANCELLABLE.has(row.state)) {
          throw failedPrecondition(
            `task ${taskId} is ${row.state}: only waiting, scheduled, queued or running tasks can be cancelled`,
          );
        }
        const runningLease = row.state === "running" ? row.lease_id : null;
        if (row.state === "waiting") await deleteDependencies(tx, [taskId]);
        const end = runningLease === null
          ? null
          : { leaseId: runningLease, outcome: "cancelled" as const, error: null };
        const cancelled = await markTaskCancelled(tx, taskId, reason, end, now);
        const { task, runnable } = await endedTransition(tx, cancelled, now);
        return { task, runningLease, runnable };
      });
    },

    async retry(taskId, now) {
      const notFound = () => new ConnectError(`task ${taskId} does not exist`, Code.NotFound);
      if (!TASK_ID.test(taskId)) throw notFound();
      return await sql.begin(async (tx) => {
        const row = await selectTaskForUpdate(tx, taskId);
        if (!row) throw notFound();
        if (!RETRYABLE.includes(row.state)) {
          throw failedPrecondition(
            `task ${taskId} is ${row.state}: only failed, dead or cancelled tasks can be retried`,
          );
        }
        const [queued] = await requeueTasks(tx, [taskId], RETRYABLE, now);
        return toTaskRecord(queued);
      });
    },

    listDead(queue, pageSize, pageToken) {
      return store.list({ queue, state: "dead" }, pageSize, pageToken);
    },

    async requeueDead(queue, taskIds, all, now) {
      const rows = await sql.begin(async (tx) => {
        const dead = await lockDeadLetters(tx, queue, taskIds, all);
        return await requeueTasks(tx, dead.map((r) => r.id), ["dead"], now);
      });
      return rows.sort(bySeq).map(toTaskRecord);
    },

    async purgeDead(queue, taskIds, all) {
      const rows = await sql.begin(async (tx) => {
        const dead = await lockDeadLetters(tx, queue, taskIds, all);
        await deleteTasks(tx, dead.map((r) => r.id));
        return dead;
      });
      for (const row of rows) sealedCache.delete(row.id);
      return rows.sort(bySeq).map(toTaskRecord);
    },

    async queueStats(now): Promise<QueueStats[]> {
      const rows = await selectQueueStats(sql, now, RATE_WINDOW_MS);
      return rows.map((r) => ({
        name: r.name,
        paused: r.paused,
        waiting: r.waiting,
        scheduled: r.scheduled,
        queued: r.queued,
        running: r.running,
        dead: r.dead,
        oldestQueuedAgeMs: r.oldest_run_at ? Math.max(0, now - r.oldest_run_at.getTime()) : 0,
        processedPerSecond: r.processed / (RATE_WINDOW_MS / 1000),
        failedPerSecond: r.failed / (RATE_WINDOW_MS / 1000),
        concurrencyLimit: r.concurrency_limit ?? 0,
        ratePerSecond: r.rate_limit_per_second ?? 0,
        rateBurst: r.rate_limit_burst ?? 0,
      }));
    },

    async setPaused(queue, paused, now) {
      await upsertQueuePaused(sql, queue, paused, now);
      knownQueues.add(queue);
    },

    brokerState() {
      // Keyset batches rather than a cursor: no transaction stays open while the caller
      // writes each batch to Redis, and the embedded PGlite session is never held for long.
      return liveRows((after) => selectLiveTasks(sql, after, BROKER_STATE_BATCH));
    },

    runningLeases: (ids) => selectRunningLeases(sql, ids.filter((id) => TASK_ID.test(id))),

    staleRunning(before) {
      return liveRows((after) => selectStaleRunning(sql, new Date(before), after, BROKER_STATE_BATCH));
    },

    pausedQueues() {
      return selectPausedQueues(sql);
    },
    queueFlags: () => selectQueueFlags(sql),
    limitGroups: (after, limit) => selectGroups(sql, after, limit),
    typeDefaults: (after, limit) => selectTypeDefaultsPage(sql, after, limit),
    setTypeDefaults: (defaults, now) => upsertTypeDefaults(sql, defaults, now),
    setLimits: (target, limits, now) =>
      "queue" in target
        ? upsertQueueLimits(sql, target.queue, limits, now)
        : upsertGroupLimits(sql, target.group, limits, now),
    limits: () => selectAllLimits(sql),
  };
  return store;
}
