/**
 * SQL of the task aggregate: its rows and their mapping to records, inserts, reads,
 * pages, dead letters and the broker's rebuild feed. The attempt lifecycle is in
 * attempt_queries.ts. A change names the state it leaves in its WHERE clause, so a
 * caller holding stale knowledge changes nothing.
 */
import { base64Of } from "../db/base64.ts";
import type postgres from "postgres";
import type {
  AttemptOutcome,
  AttemptRecord,
  DependencyCondition,
  TaskError,
  TaskRecord,
  TaskState,
} from "./model.ts";

/** A pool or a transaction: every query here runs on either. */
export type Db = postgres.ISql;

export interface TaskRow {
  id: string;
  /** int8 arrives as a string. */
  seq: string;
  queue: string;
  type: string;
  payload: Uint8Array;
  priority: number;
  state: TaskState;
  attempt_count: number;
  max_attempts: number;
  backoff_initial_ms: string;
  backoff_max_ms: string;
  backoff_multiplier: number;
  timeout_ms: number;
  idempotency_key: string;
  labels: Record<string, string>;
  depends_on: string[];
  condition: DependencyCondition;
  run_at: Date;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  lease_id: string | null;
  worker_id: string | null;
  progress_percent: number | null;
  progress_message: string | null;
  progress_updated_at: Date | null;
  output: Uint8Array | null;
  last_error: TaskError | null;
  cancel_reason: string;
  schedule_id: string | null;
  limit_group: string | null;
  attempt_number: number;
  traceparent: string | null;
}

export interface AttemptRow {
  number: number;
  worker_id: string;
  lease_id: string;
  started_at: Date;
  ended_at: Date | null;
  outcome: AttemptOutcome | null;
  error: TaskError | null;
}

/** The driver hands bytea back as a Node Buffer; callers compare and serialise plain bytes. */
function bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function toTaskRecord(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    seq: Number(row.seq),
    queue: row.queue,
    type: row.type,
    payload: bytes(row.payload),
    priority: row.priority,
    runAt: row.run_at.getTime(),
    maxAttempts: row.max_attempts,
    backoff: {
      initialMs: Number(row.backoff_initial_ms),
      maxMs: Number(row.backoff_max_ms),
      multiplier: row.backoff_multiplier,
    },
    timeoutMs: row.timeout_ms,
    idempotencyKey: row.idempotency_key,
    labels: row.labels,
    dependsOn: row.depends_on,
    // Batch indexes only mean something inside the EnqueueBatch call; depends_on holds them resolved.
    dependsOnBatchIndex: [],
    condition: row.condition,
    ...(row.schedule_id !== null ? { scheduleId: row.schedule_id } : {}),
    limitGroup: row.limit_group ?? "",
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
    state: row.state,
    attemptCount: row.attempt_count,
    attemptNumber: row.attempt_number,
    createdAt: row.created_at.getTime(),
    updatedAt: row.updated_at.getTime(),
    finishedAt: row.finished_at?.getTime() ?? null,
    leaseId: row.lease_id,
    workerId: row.worker_id,
    progress: row.progress_updated_at === null ? null : {
      percent: row.progress_percent ?? 0,
      message: row.progress_message ?? "",
      updatedAt: row.progress_updated_at.getTime(),
    },
    output: row.output === null ? null : bytes(row.output),
    lastError: row.last_error,
    cancelReason: row.cancel_reason,
  };
}

export function toAttemptRecord(row: AttemptRow): AttemptRecord {
  return {
    number: row.number,
    workerId: row.worker_id,
    leaseId: row.lease_id,
    startedAt: row.started_at.getTime(),
    endedAt: row.ended_at?.getTime() ?? null,
    outcome: row.outcome,
    error: row.error,
  };
}

/** A task to insert, with its id and first state already decided. */
export interface TaskInsert {
  id: string;
  queue: string;
  type: string;
  payload: Uint8Array;
  priority: number;
  state: TaskState;
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number; multiplier: number };
  timeoutMs: number;
  idempotencyKey: string;
  labels: Record<string, string>;
  dependsOn: string[];
  condition: DependencyCondition;
  runAt: number;
  /** Set when the task is born cancelled (a dependency condition that can never hold). */
  cancelReason: string;
  scheduleId: string | null;
  limitGroup: string | null;
  traceparent: string | null;
}

/**
 * One insert of every task, in the given order, so seq follows it (FIFO within a batch).
 * Each column travels as one array parameter (unnest) rather than one parameter per
 * field, and only the generated seq comes back: the rows are built from what was sent.
 */
export async function insertTasks(
  db: Db,
  tasks: TaskInsert[],
  now: number,
): Promise<Array<TaskRow & { version: string }>> {
  if (tasks.length === 0) return [];
  const at = new Date(now);
  const column = <T>(pick: (t: TaskInsert) => T) => tasks.map(pick);
  const inserted = await db<{ id: string; seq: string; version: string }[]>`
    insert into tasks (
      id, queue, type, payload, priority, state, max_attempts, backoff_initial_ms, backoff_max_ms,
      backoff_multiplier, timeout_ms, idempotency_key, labels, depends_on, condition, run_at,
      created_at, updated_at, finished_at, cancel_reason, schedule_id, limit_group, traceparent
    )
    select i.id, i.queue, i.type, decode(i.payload, 'base64'), i.priority, i.state, i.max_attempts,
      i.backoff_initial_ms, i.backoff_max_ms, i.backoff_multiplier, i.timeout_ms, i.idempotency_key,
      i.labels::jsonb, i.depends_on::uuid[], i.condition, to_timestamp(i.run_at / 1000.0),
      ${at}, ${at}, case when i.state = 'cancelled' then ${at}::timestamptz end, i.cancel_reason, i.schedule_id,
      i.limit_group, i.traceparent
    from unnest(
      ${column((t) => t.id)}::uuid[], ${column((t) => t.queue)}::text[], ${column((t) => t.type)}::text[],
      ${column((t) => base64Of(t.payload))}::text[], ${column((t) => t.priority)}::int2[],
      ${column((t) => t.state)}::text[], ${column((t) => t.maxAttempts)}::int4[],
      ${column((t) => t.backoff.initialMs)}::int8[], ${column((t) => t.backoff.maxMs)}::int8[],
      ${column((t) => t.backoff.multiplier)}::float8[], ${column((t) => t.timeoutMs)}::int4[],
      ${column((t) => t.idempotencyKey)}::text[], ${column((t) => JSON.stringify(t.labels))}::text[],
      ${column((t) => `{${t.dependsOn.join(",")}}`)}::text[], ${column((t) => t.condition)}::text[],
      ${column((t) => t.runAt)}::float8[], ${column((t) => t.cancelReason)}::text[],
      ${column((t) => t.scheduleId)}::text[], ${column((t) => t.limitGroup)}::text[],
      ${column((t) => t.traceparent)}::text[]
    ) with ordinality as i(
      id, queue, type, payload, priority, state, max_attempts, backoff_initial_ms, backoff_max_ms,
      backoff_multiplier, timeout_ms, idempotency_key, labels, depends_on, condition, run_at,
      cancel_reason, schedule_id, limit_group, traceparent, n
    )
    order by i.n
    returning id, seq, xmin::text as version`;
  const seqOf = new Map(inserted.map((r) => [r.id, r]));
  return tasks.map((t) => ({
    id: t.id,
    seq: seqOf.get(t.id)!.seq,
    version: seqOf.get(t.id)!.version,
    queue: t.queue,
    type: t.type,
    payload: t.payload,
    priority: t.priority,
    state: t.state,
    attempt_count: 0,
    max_attempts: t.maxAttempts,
    backoff_initial_ms: String(t.backoff.initialMs),
    backoff_max_ms: String(t.backoff.maxMs),
    backoff_multiplier: t.backoff.multiplier,
    timeout_ms: t.timeoutMs,
    idempotency_key: t.idempotencyKey,
    labels: t.labels,
    depends_on: t.dependsOn,
    condition: t.condition,
    run_at: new Date(t.runAt),
    created_at: at,
    updated_at: at,
    finished_at: t.state === "cancelled" ? at : null,
    lease_id: null,
    worker_id: null,
    progress_percent: null,
    progress_message: null,
    progress_updated_at: null,
    output: null,
    last_error: null,
    cancel_reason: t.cancelReason,
    schedule_id: t.scheduleId,
    limit_group: t.limitGroup,
    attempt_number: 0,
    traceparent: t.traceparent,
  }));
}

export async function selectTask(db: Db, id: string): Promise<TaskRow | undefined> {
  const [row] = await db<TaskRow[]>`select * from tasks where id = ${id}`;
  return row;
}

/** Locks the task until the transaction ends: cancel and retry decide on a settled state. */
export async function selectTaskForUpdate(db: Db, id: string): Promise<TaskRow | undefined> {
  const [row] = await db<TaskRow[]>`select * from tasks where id = ${id} for update`;
  return row;
}

/**
 * Shares the lock of existing tasks a new task depends on: a dependency cannot end (its
 * update waits) until the new task and its edges are committed, so the end sees them.
 */
export async function selectTaskStatesForShare(
  db: Db,
  ids: string[],
): Promise<{ id: string; state: TaskState }[]> {
  if (ids.length === 0) return [];
  return await db<{ id: string; state: TaskState }[]>`
    select id, state from tasks where id = any(${ids}::uuid[]) order by id for share`;
}

/**
 * Queued again with a fresh attempt budget, for the given tasks still in one of `from`.
 * Attempt rows stay: they are the task's history.
 */
export async function requeueTasks(
  db: Db,
  ids: string[],
  from: TaskState[],
  now: number,
): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  const at = new Date(now);
  return await db<TaskRow[]>`
    update tasks set state = 'queued', attempt_count = 0, run_at = ${at}, finished_at = null,
      output = null, cancel_reason = '', progress_percent = null, progress_message = null,
      progress_updated_at = null, updated_at = ${at}
    where id = any(${ids}::uuid[]) and state = any(${from}::text[])
    returning *`;
}

/** One page, newest first, after the keyset position (created_at, seq) of the previous page. */
export async function listTasks(db: Db, filter: {
  queue?: string;
  state?: TaskState;
  type?: string;
  labels?: Record<string, string>;
  after?: { createdAt: number; seq: number };
  limit: number;
}): Promise<TaskRow[]> {
  const { queue, state, type, labels, after, limit } = filter;
  return await db<TaskRow[]>`
    select * from tasks where true
    ${queue !== undefined ? db`and queue = ${queue}` : db``}
    ${state !== undefined ? db`and state = ${state}` : db``}
    ${type !== undefined ? db`and type = ${type}` : db``}
    ${labels !== undefined ? db`and labels @> ${db.json(labels)}::jsonb` : db``}
    ${after !== undefined ? db`and (created_at, seq) < (${new Date(after.createdAt)}, ${after.seq})` : db``}
    order by created_at desc, seq desc
    limit ${limit}`;
}

/** The dead letters with these ids (optionally of one queue), locked for requeue or purge. */
export async function selectDeadTasksForUpdate(db: Db, queue: string, ids: string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return await db<TaskRow[]>`
    select * from tasks where id = any(${ids}::uuid[]) and state = 'dead'
    ${queue !== "" ? db`and queue = ${queue}` : db``}
    order by id for update`;
}

/** Every dead letter of a queue, locked. */
export async function selectQueueDeadTasksForUpdate(db: Db, queue: string): Promise<TaskRow[]> {
  return await db<TaskRow[]>`
    select * from tasks where queue = ${queue} and state = 'dead' order by seq for update`;
}

export async function deleteTasks(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db`delete from tasks where id = any(${ids}::uuid[])`;
}

export interface LiveTaskRow {
  id: string;
  seq: string;
  queue: string;
  priority: number;
  run_at: Date;
  type: string;
  limit_group: string | null;
  lease_id: string | null;
  worker_id: string | null;
}

/**
 * Live tasks (runnable or running) after `afterSeq`, in seq order: one batch of the broker
 * rebuild. Only what the broker needs: payloads of up to 1 MiB each stay in Postgres.
 */
export async function selectLiveTasks(db: Db, afterSeq: number, limit: number): Promise<LiveTaskRow[]> {
  return await db<LiveTaskRow[]>`
    select id, seq, queue, priority, run_at, type, limit_group, lease_id, worker_id from tasks
    where state in ('queued', 'scheduled', 'running') and seq > ${afterSeq}
    order by seq limit ${limit}`;
}

/**
 * Running tasks untouched since `before`, in keyset batches: the lease sweep checks that
 * the broker still holds a lease for each.
 */
/** The current lease of each of these tasks that is running. */
export async function selectRunningLeases(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db<{ id: string; lease_id: string }[]>`
    select id, lease_id from tasks where id = any(${ids as string[]}::uuid[]) and state = 'running'`;
  return new Map(rows.map((r) => [r.id, r.lease_id]));
}

export async function selectStaleRunning(
  db: Db,
  before: Date,
  afterSeq: number,
  limit: number,
): Promise<LiveTaskRow[]> {
  return await db<LiveTaskRow[]>`
    select id, seq, queue, priority, run_at, type, limit_group, lease_id, worker_id from tasks
    where state = 'running' and updated_at < ${before} and seq > ${afterSeq}
    order by seq limit ${limit}`;
}
