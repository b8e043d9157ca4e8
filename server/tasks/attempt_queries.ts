/**
 * SQL of attempts, the hot path of the runtime: a task starts under a lease, reports
 * progress, and ends (succeeded, retried, dead or cancelled) with its attempt row in the
 * same statement. Changes of a running task are fenced by its lease id.
 */
import type { AttemptOutcome, TaskError } from "./model.ts";
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
 * Runnable (queued, or scheduled and due) → running under the lease, with its attempt row,
 * in one statement (its own transaction): this is on every task's hot path. Undefined when
 * the task is not runnable. The attempt is numbered after every earlier one; the row lock
 * the update takes means no other start of the task can number concurrently.
 */
export async function startTask(
  db: Db,
  id: string,
  leaseId: string,
  workerId: string,
  now: number,
): Promise<TaskRow | undefined> {
  const at = new Date(now);
  const [row] = await db<TaskRow[]>`
    with started as (
      update tasks set state = 'running', lease_id = ${leaseId}, worker_id = ${workerId},
        attempt_count = attempt_count + 1, updated_at = ${at},
        progress_percent = null, progress_message = null, progress_updated_at = null
      where id = ${id} and (state = 'queued' or (state = 'scheduled' and run_at <= ${at}))
      returning *
    ), attempt as (
      insert into task_attempts (task_id, number, queue, worker_id, lease_id, started_at)
      select s.id, coalesce((select max(a.number) from task_attempts a where a.task_id = s.id), 0) + 1,
        s.queue, s.worker_id, s.lease_id, ${at}
      from started s
    )
    select * from started`;
  return row;
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

export async function markTaskSucceeded(
  db: Db,
  id: string,
  output: Uint8Array,
  end: AttemptEnd,
  now: number,
): Promise<ChangedTaskRow> {
  const at = new Date(now);
  const [row] = await db<ChangedTaskRow[]>`
    with ${endingAttempt(db, id, end, at)} changed as (
      update tasks set state = 'succeeded', output = ${output}, lease_id = null, worker_id = null,
        finished_at = ${at}, updated_at = ${at}
      where id = ${id} returning *
    )
    ${selectChanged(db)}`;
  return row;
}

/** A failed attempt with attempts left: back to scheduled, due at `runAt`. */
export async function scheduleTaskRetry(
  db: Db,
  id: string,
  runAt: number,
  error: TaskError,
  end: AttemptEnd,
  now: number,
): Promise<ChangedTaskRow> {
  const at = new Date(now);
  const [row] = await db<ChangedTaskRow[]>`
    with ${endingAttempt(db, id, end, at)} changed as (
      update tasks set state = 'scheduled', run_at = ${new Date(runAt)}, last_error = ${
    db.json({ ...error })
  },
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
