/**
 * The task runtime's domain types and the TaskStore seam: Postgres is the truth for
 * every task, its attempts and its queue's settings. The store decides every state
 * change inside one transaction, fenced by the lease id, so a stale worker can never
 * complete a task twice.
 */
import type { BrokerTask, Limits } from "../broker/broker.ts";
import type { NamedLimits, TypeDefaults } from "./limit_queries.ts";

export type { Limits, NamedLimits, TypeDefaults };

export type TaskState =
  | "waiting"
  | "scheduled"
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "dead"
  | "cancelled";

export type DependencyCondition = "on_success" | "on_failure" | "always";

export type AttemptOutcome = "succeeded" | "failed" | "lease_expired" | "timed_out" | "cancelled";

export interface Backoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
}

export interface TaskError {
  message: string;
  code: string;
  retryable: boolean;
  /** The handler's stack trace, bounded (error_bounds.ts); absent on errors the server made or older rows. */
  stack?: string;
}

/** A validated submission with defaults filled in (the service validates; the store trusts). */
export interface NewTask {
  queue: string;
  type: string;
  payload: Uint8Array;
  priority: number;
  /** Milliseconds since the epoch; ≤ now means ready at once. */
  runAt: number;
  maxAttempts: number;
  backoff: Backoff;
  timeoutMs: number;
  /** "" when none. */
  idempotencyKey: string;
  labels: Record<string, string>;
  dependsOn: string[];
  /** EnqueueBatch only: indexes of earlier tasks in the same batch. */
  dependsOnBatchIndex: number[];
  condition: DependencyCondition;
  scheduleId?: string;
  /** The limit group it counts against; "" (or unset) for none. */
  limitGroup?: string;
  /**
   * A secret the payload only refers to (`payload` is `sealedReference(id)`): stored with the
   * task in its transaction, bound to it, and opened only in its Assign (sealed_payloads.ts).
   * Server code only; never read back into a TaskRecord.
   */
  sealed?: { id: string; body: Uint8Array; expiresAt: number };
  /** The W3C traceparent of the call that enqueued it (unset: none); it goes to the worker in Assign. */
  traceparent?: string;
}

export interface TaskRecord extends NewTask {
  id: string;
  /** Insertion sequence: FIFO within a priority. */
  seq: number;
  state: TaskState;
  /** Attempts counted against max_attempts since it was enqueued or last retried by hand. */
  attemptCount: number;
  /** Attempts started over its whole life: the number of the latest attempt row. */
  attemptNumber: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  /** The current lease (running tasks only). */
  leaseId: string | null;
  workerId: string | null;
  progress: { percent: number; message: string; updatedAt: number } | null;
  output: Uint8Array | null;
  lastError: TaskError | null;
  cancelReason: string;
}

/** A task that started, with the state it left (queued, or scheduled when it was due). */
export type StartedTask = TaskRecord & { previousState: TaskState };

export interface AttemptRecord {
  number: number;
  workerId: string;
  leaseId: string;
  startedAt: number;
  endedAt: number | null;
  outcome: AttemptOutcome | null;
  error: TaskError | null;
}

export interface QueueStats {
  name: string;
  paused: boolean;
  waiting: number;
  scheduled: number;
  queued: number;
  running: number;
  dead: number;
  /** Age in ms of the oldest runnable task, 0 when none. */
  oldestQueuedAgeMs: number;
  processedPerSecond: number;
  failedPerSecond: number;
  /** 0 where there is no limit. */
  concurrencyLimit: number;
  ratePerSecond: number;
  rateBurst: number;
}

export interface TaskFilter {
  queue?: string;
  state?: TaskState;
  type?: string;
  labels?: Record<string, string>;
}

export interface Page<T> {
  items: T[];
  /** "" on the last page. */
  nextPageToken: string;
}

/** What a finished attempt led to, for the caller to mirror into the broker. */
export interface Transition {
  task: TaskRecord;
  /** Tasks that became runnable because of this one (retry scheduled, dependents released). */
  runnable: BrokerTask[];
}

export type AttemptResult =
  | { ok: true; output: Uint8Array }
  /** `timedOut`: the handler was aborted at the attempt's deadline (the attempt ends timed_out). */
  | { ok: false; error: TaskError; timedOut?: boolean };

export interface TaskStore {
  /** Inserts tasks in one transaction. A used idempotency key (per queue) returns the first task, duplicate = true. */
  enqueue(tasks: NewTask[], now: number): Promise<{ tasks: TaskRecord[]; duplicates: boolean[] }>;
  get(id: string): Promise<{ task: TaskRecord; attempts: AttemptRecord[] } | null>;
  list(filter: TaskFilter, pageSize: number, pageToken: string): Promise<Page<TaskRecord>>;
  /**
   * A claimed task starts: runnable (queued, or scheduled and due) → running under
   * this lease, attempt count + 1, attempt row. Null when the task is no longer
   * runnable (cancelled meanwhile): the caller releases the lease.
   */
  start(taskId: string, leaseId: string, workerId: string, now: number): Promise<TaskRecord | null>;
  /** `start` for every lease of one claim, in one statement; returns the tasks that started, in claim order. */
  startMany(
    leases: ReadonlyArray<{ taskId: string; leaseId: string }>,
    workerId: string,
    now: number,
  ): Promise<StartedTask[]>;
  /**
   * Ends the running attempt if `leaseId` is still the task's lease; null otherwise
   * (the fence). Success → succeeded; a retryable error with attempts left →
   * scheduled after backoff with full jitter (`random` in [0,1)); else → dead.
   */
  finish(
    taskId: string,
    leaseId: string,
    result: AttemptResult,
    now: number,
    random: () => number,
  ): Promise<Transition | null>;
  /**
   * `finish` for many results in one transaction (successes in one statement): `tasks`
   * follows `results`, null where the lease was not current; `runnable` holds every
   * retry scheduled and dependent released.
   */
  finishMany(
    results: ReadonlyArray<{ taskId: string; leaseId: string; result: AttemptResult }>,
    now: number,
    random: () => number,
  ): Promise<{ tasks: Array<TaskRecord | null>; runnable: BrokerTask[] }>;
  /** Ends the attempt of an expired lease (outcome lease_expired or timed_out), counting it; null when stale. */
  expire(
    taskId: string,
    leaseId: string,
    outcome: "lease_expired" | "timed_out",
    now: number,
    random: () => number,
  ): Promise<Transition | null>;
  /** Records progress if the lease is current; false otherwise. */
  progress(taskId: string, leaseId: string, percent: number, message: string, now: number): Promise<boolean>;
  /**
   * Cancels an unfinished task. Returns the task and, when it was running, the lease
   * its worker must be told to abort. Throws FailedPrecondition for finished tasks.
   */
  cancel(
    taskId: string,
    reason: string,
    now: number,
  ): Promise<{ task: TaskRecord; runningLease: string | null; runnable: BrokerTask[] }>;
  /** Queues a failed, dead or cancelled task again with a fresh attempt budget. */
  retry(taskId: string, now: number): Promise<TaskRecord>;
  listDead(queue: string | undefined, pageSize: number, pageToken: string): Promise<Page<TaskRecord>>;
  requeueDead(queue: string, taskIds: string[], all: boolean, now: number): Promise<TaskRecord[]>;
  purgeDead(queue: string, taskIds: string[], all: boolean): Promise<TaskRecord[]>;
  queueStats(now: number): Promise<QueueStats[]>;
  setPaused(queue: string, paused: boolean, now: number): Promise<void>;
  /** Limit groups by name after `after`, at most `limit`. */
  limitGroups(after: string, limit: number): Promise<NamedLimits[]>;
  /** Per-type defaults by type after `after`, at most `limit`. */
  typeDefaults(after: string, limit: number): Promise<TypeDefaults[]>;
  setTypeDefaults(defaults: Omit<TypeDefaults, "updatedAt">, now: number): Promise<void>;
  /** Stores a queue's or a limit group's limits (all zero: none). */
  setLimits(target: { queue: string } | { group: string }, limits: Limits, now: number): Promise<void>;
  /** Every task the broker should hold: runnable ones and running ones (with their lease). */
  brokerState(): AsyncIterable<{ task: BrokerTask; lease: { leaseId: string; workerId: string } | null }>;
  /** Running tasks whose row has not changed since `before` (ms since the epoch), with their lease. */
  staleRunning(
    before: number,
  ): AsyncIterable<{ task: BrokerTask; lease: { leaseId: string; workerId: string } | null }>;
  pausedQueues(): Promise<string[]>;
  /** Every queue Postgres knows a paused flag for, paused or not. */
  queueFlags(): Promise<{ name: string; paused: boolean }[]>;
  /** Every queue and limit group that has a limit, for a broker rebuild. */
  limits(): Promise<{ queues: NamedLimits[]; groups: NamedLimits[] }>;
}

/** What the broker must hold of a task that may still run; undefined for running or finished ones. */
export function runnable(t: TaskRecord): BrokerTask | undefined {
  return t.state === "queued" || t.state === "scheduled"
    ? {
      id: t.id,
      queue: t.queue,
      priority: t.priority,
      seq: t.seq,
      runAt: t.runAt,
      type: t.type,
      group: t.limitGroup,
    }
    : undefined;
}
