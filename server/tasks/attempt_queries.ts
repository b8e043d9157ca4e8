/**
 * SQL of attempts, the hot path of the runtime: a task starts under a lease, reports
 * progress, and ends (succeeded, retried, dead or cancelled) with its attempt row in the
 * same statement. Changes of a running task are fenced by its lease id.
 */
import { base64Of } from "../db/base64.ts";
import type { AttemptOutcome, TaskError, TaskState } from "./model.ts";
import type { AttemptRow, Db, TaskRow } from "./task_queries.ts";

/** The running task if `leaseId` is still its lease, locked: the fence of finish and expire. */
export async function selectLeasedTaskForUpdate(
  db: Db,
  id: string,
  leaseId: string,
): Promise<TaskRow | undefined> {
  const [row] = await db<TaskRow[]>`
    select * from tasks where id = ${id} and lease_id = ${leaseId} and state = 'running' for update`;
  return row;
}

export async function selectAttempts(db: Db, taskId: string): Promise<AttemptRow[]> {
  return await db<AttemptRow[]>`
    select number, worker_id, lease_id, started_at, ended_at, outcome, error
    from task_attempts where task_id = ${taskId} order by number`;
}

/**
 * The rows of `input` (a CTE with id and lease_id) that meet `condition`, locked in id
 * order: an enqueue share-locks the tasks it depends on in id order too, so a batch
 * change and such an enqueue never wait on each other in a cycle. Each row is looked up
 * by its own id (a lateral join): measured on statistics that said the table was empty
 * (after a bulk load), a plain join was planned as a scan of every live task.
 */
function lockedInIdOrder(db: Db, input: ReturnType<Db>, condition: ReturnType<Db>) {
  return db`
    select t.id, t.state as previous_state, d.lease_id from (select * from ${input} order by id) d
    cross join lateral (
      select t.id, t.state from tasks t where t.id = d.id and (${condition}) for update of t
    ) t`;
}

/** Locks these tasks in id order (see lockedInIdOrder), for a transaction that changes several. */
export async function lockTasks(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db`
    with input as (select unnest(${ids as string[]}::uuid[]) as id, null::text as lease_id)
    ${lockedInIdOrder(db, db`input`, db`true`)}`;
}

/**
 * A claim's tasks as their Assign carries them, read and not written: the hot path records
 * a start with its finish (markTasksSucceeded), or once the task has run for a while
 * (startTasks). Only tasks still runnable (queued, or scheduled and due) come back, each
 * with its row version (`xmin`), which fences the start recorded later: any change of the
 * row meanwhile (a cancel, an expired attempt recorded) makes that start, and so a stale
 * Result, find nothing.
 */
export async function selectClaimed(
  db: Db,
  ids: readonly string[],
  now: number,
): Promise<Array<TaskRow & { version: string }>> {
  if (ids.length === 0) return [];
  return await db<Array<TaskRow & { version: string }>>`
    select t.*, t.xmin::text as version from tasks t
    where t.id = any(${ids as string[]}::uuid[])
      and (t.state = 'queued' or (t.state = 'scheduled' and t.run_at <= ${new Date(now)}))`;
}

/** A claimed task's start to record: under its lease, fenced by the row version read at the claim if given. */
export interface StartToRecord {
  taskId: string;
  leaseId: string;
  /**
   * The row version `selectClaimed` read. Unset (an expiry, see pg_store expire): a row not
   * changed since `startedAt` whose attempts do not include this lease.
   */
  version?: string;
  /** When its worker was given it (the claim); unset: now. */
  startedAt?: number;
}

/**
 * Runnable → running under each lease, with its attempt row, in one statement (its own
 * transaction, or the caller's). Tasks no longer runnable, or changed since their version
 * was read, are left out. Each attempt is numbered after every earlier one of its task
 * (attempt_number, which a manual retry does not reset); the row lock the update takes
 * means no other start of the task can number concurrently. Each row comes back with the
 * state it left, for WatchTasks' previous_state.
 */
export async function startTasks(
  db: Db,
  starts: readonly StartToRecord[],
  workerId: string,
  now: number,
): Promise<Array<TaskRow & { previous_state: TaskState }>> {
  if (starts.length === 0) return [];
  const at = new Date(now);
  const ids = starts.map((l) => l.taskId);
  const leaseIds = starts.map((l) => l.leaseId);
  const versions = starts.map((l) => l.version ?? null);
  const startedAt = starts.map((l) => new Date(l.startedAt ?? now).toISOString());
  return await db<Array<TaskRow & { previous_state: TaskState }>>`
    with claimed as (
      select * from unnest(${ids}::uuid[], ${leaseIds}::text[], ${versions}::text[], ${startedAt}::timestamptz[])
        as c(id, lease_id, version, started_at)
    ), locked as (
      ${
    lockedInIdOrder(
      db,
      db`claimed`,
      // Without a version (an expiry), the lease must be newer than the row's last change and
      // have no attempt yet: a stale lease (one a sweeper restored late) records nothing.
      db`(t.state = 'queued' or (t.state = 'scheduled' and t.run_at <= ${at})) and
        (t.xmin::text = d.version or (d.version is null and t.updated_at <= d.started_at and not exists (
          select 1 from task_attempts a where a.task_id = t.id and a.lease_id = d.lease_id)))`,
    )
  }
    ), started as (
      update tasks t set state = 'running', lease_id = l.lease_id, worker_id = ${workerId},
        attempt_count = t.attempt_count + 1, attempt_number = t.attempt_number + 1, updated_at = ${at},
        progress_percent = null, progress_message = null, progress_updated_at = null
      from locked l
      where t.id = l.id
      returning t.*, l.previous_state
    ), attempt as (
      insert into task_attempts (task_id, number, queue, worker_id, lease_id, started_at)
      select s.id, s.attempt_number, s.queue, s.worker_id, s.lease_id, least(c.started_at, ${at})
      from started s join claimed c on c.id = s.id
    )
    select * from started`;
}

/** A succeeded attempt to record: the lease it ran under and its output. */
export interface Success {
  taskId: string;
  leaseId: string;
  output: Uint8Array;
  /** Set when the start may not be recorded yet: the row version read at the claim (selectClaimed). */
  version?: string;
  /** The worker, and when it was given the task, for the attempt row of an unrecorded start. */
  workerId?: string;
  startedAt?: number;
}

/**
 * → succeeded for every task still under its lease, attempts ended, in one statement;
 * tasks whose lease is no longer current are left out (the fence). A task running in
 * Postgres is fenced by its lease id; one whose start was never recorded (it ended
 * quickly) by the row version read at its claim, and gets its whole attempt row here.
 * Rows come back locked until the caller's transaction ends, so it can settle their
 * dependents after reading the edges in a later statement, whose snapshot includes the
 * edges of any enqueue that committed while this one waited for a row.
 */
export async function markTasksSucceeded(db: Db, done: readonly Success[], now: number): Promise<TaskRow[]> {
  if (done.length === 0) return [];
  const at = new Date(now);
  const ids = done.map((d) => d.taskId);
  const leaseIds = done.map((d) => d.leaseId);
  const versions = done.map((d) => d.version ?? null);
  const workers = done.map((d) => d.workerId ?? null);
  const startedAt = done.map((d) => new Date(Math.min(d.startedAt ?? now, now)).toISOString());
  // Base64 text rather than a bytea[] parameter, which the driver does not serialise (base64.ts).
  const outputs = done.map((d) => base64Of(d.output));
  return await db<TaskRow[]>`
    with done as (
      select * from unnest(${ids}::uuid[], ${leaseIds}::text[], ${outputs}::text[], ${versions}::text[],
        ${workers}::text[], ${startedAt}::timestamptz[]) as d(id, lease_id, output, version, worker_id, started_at)
    ), locked as (
      ${
    lockedInIdOrder(
      db,
      db`done`,
      db`(t.lease_id = d.lease_id and t.state = 'running') or
        (d.version is not null and d.worker_id is not null and t.xmin::text = d.version
          and t.state in ('queued', 'scheduled'))`,
    )
  }
    ), changed as (
      update tasks t set state = 'succeeded', output = decode(d.output, 'base64'), lease_id = null,
        worker_id = null, finished_at = ${at}, updated_at = ${at},
        attempt_count = t.attempt_count + (l.previous_state <> 'running')::int,
        attempt_number = t.attempt_number + (l.previous_state <> 'running')::int
      from locked l join done d on d.id = l.id
      where t.id = l.id
      returning t.*, d.lease_id as ended_lease_id, l.previous_state as started_from,
        d.worker_id as ended_worker_id, d.started_at as ended_started_at
    ), ended as (
      update task_attempts a set ended_at = ${at}, outcome = 'succeeded', error = null
      from changed c
      where c.started_from = 'running' and a.task_id = c.id and a.lease_id = c.ended_lease_id
        and a.ended_at is null
    ), whole as (
      insert into task_attempts (task_id, number, queue, worker_id, lease_id, started_at, ended_at, outcome)
      select c.id, c.attempt_number, c.queue, c.ended_worker_id, c.ended_lease_id, c.ended_started_at, ${at},
        'succeeded'
      from changed c where c.started_from <> 'running'
    )
    select * from changed`;
}

/** Which of these tasks some waiting task depends on. */
export async function selectTasksWithDependents(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db<{ id: string }[]>`
    select distinct depends_on as id from task_dependencies where depends_on = any(${ids}::uuid[])`;
  return new Set(rows.map((r) => r.id));
}

/** How the running attempt ended, for a change that ends one. */
export interface AttemptEnd {
  leaseId: string;
  outcome: AttemptOutcome;
  error: TaskError | null;
}

/** A changed task, and whether any waiting task has an edge to it (to skip settling when none). */
export interface ChangedTaskRow extends TaskRow {
  has_dependents: boolean;
}

/**
 * The leading CTE that ends the running attempt in the same statement as the task's
 * change: the hot path of every finished attempt saves a round trip.
 */
function endingAttempt(db: Db, taskId: string, end: AttemptEnd | null, at: Date) {
  if (end === null) return db``;
  return db`
    ended as (
      update task_attempts set ended_at = ${at}, outcome = ${end.outcome},
        error = ${end.error === null ? null : db.json({ ...end.error })}
      where task_id = ${taskId} and lease_id = ${end.leaseId} and ended_at is null
    ),`;
}

/**
 * The edges are read in this later statement, after the caller locked the task: an
 * enqueue that share-locked it as a dependency has committed by then, so its edge shows.
 */
function selectChanged(db: Db) {
  return db`
    select changed.*,
      exists (select 1 from task_dependencies d where d.depends_on = changed.id) as has_dependents
    from changed`;
}

/** A failed attempt with attempts left: back to scheduled, due at `runAt`. */
export async function scheduleTaskRetry(
  db: Db,
  id: string,
  runAt: number,
  error: TaskError,
  end: AttemptEnd,
  now: number,
  /** The worker refused the task unrun: the attempt stays in the history but not in attempt_count. */
  uncounted = false,
): Promise<ChangedTaskRow> {
  const at = new Date(now);
  const [row] = await db<ChangedTaskRow[]>`
    with ${endingAttempt(db, id, end, at)} changed as (
      update tasks set state = 'scheduled', run_at = ${new Date(runAt)}, last_error = ${
    db.json({ ...error })
  },
        attempt_count = attempt_count - ${uncounted ? 1 : 0},
        lease_id = null, worker_id = null, updated_at = ${at}
      where id = ${id} returning *
    )
    ${selectChanged(db)}`;
  return row;
}

export async function markTaskDead(
  db: Db,
  id: string,
  error: TaskError,
  end: AttemptEnd,
  now: number,
): Promise<ChangedTaskRow> {
  const at = new Date(now);
  const [row] = await db<ChangedTaskRow[]>`
    with ${endingAttempt(db, id, end, at)} changed as (
      update tasks set state = 'dead', last_error = ${
    db.json({ ...error })
  }, lease_id = null, worker_id = null,
        finished_at = ${at}, updated_at = ${at}
      where id = ${id} returning *
    )
    ${selectChanged(db)}`;
  return row;
}

/** `end` is the running attempt's, when the task was running. */
export async function markTaskCancelled(
  db: Db,
  id: string,
  reason: string,
  end: AttemptEnd | null,
  now: number,
): Promise<ChangedTaskRow> {
  const at = new Date(now);
  const [row] = await db<ChangedTaskRow[]>`
    with ${endingAttempt(db, id, end, at)} changed as (
      update tasks set state = 'cancelled', cancel_reason = ${reason}, lease_id = null, worker_id = null,
        finished_at = ${at}, updated_at = ${at}
      where id = ${id} returning *
    )
    ${selectChanged(db)}`;
  return row;
}

/** Records progress while the lease is current; false when it is not. */
export async function updateProgress(
  db: Db,
  id: string,
  leaseId: string,
  percent: number,
  message: string,
  now: number,
): Promise<boolean> {
  const at = new Date(now);
  const result = await db`
    update tasks set progress_percent = ${percent}, progress_message = ${message},
      progress_updated_at = ${at}, updated_at = ${at}
    where id = ${id} and lease_id = ${leaseId} and state = 'running'`;
  return result.count > 0;
}
