/**
 * SQL of task dependencies. An edge lives only while its task waits; when a dependency
 * ends, its waiting dependents are locked one generation at a time and judged on the
 * states of all their dependencies, read after the lock so a sibling dependency that
 * ended in a concurrent transaction is seen.
 */
import type { DependencyCondition, TaskState } from "./model.ts";
import type { Db, TaskRow } from "./task_queries.ts";

export async function insertDependencies(
  db: Db,
  edges: { task_id: string; depends_on: string }[],
): Promise<void> {
  if (edges.length === 0) return;
  await db`insert into task_dependencies ${db(edges)} on conflict do nothing`;
}

/**
 * Waiting tasks with an edge to any of `ended`, locked in id order. Two transactions that
 * end two dependencies of one task take turns here, so the second sees the first's end.
 */
export async function lockWaitingDependents(db: Db, ended: string[]): Promise<string[]> {
  if (ended.length === 0) return [];
  const rows = await db<{ id: string }[]>`
    select id from tasks
    where state = 'waiting'
      and id in (select task_id from task_dependencies where depends_on = any(${ended}::uuid[]))
    order by id for update`;
  return rows.map((r) => r.id);
}

export interface DependencyStates {
  id: string;
  condition: DependencyCondition;
  /** One per dependency; a purged dependency (only dead letters are purged) reads as dead. */
  states: TaskState[];
}

export async function selectDependencyStates(db: Db, ids: string[]): Promise<DependencyStates[]> {
  if (ids.length === 0) return [];
  return await db<DependencyStates[]>`
    select t.id, t.condition,
      array(
        select coalesce(d.state, 'dead') from unnest(t.depends_on) as dep (id)
        left join tasks d on d.id = dep.id
      ) as states
    from tasks t where t.id = any(${ids}::uuid[])`;
}

/** Waiting → scheduled or queued by their run_at; the edges go, the task no longer waits. */
export async function releaseWaitingTasks(db: Db, ids: string[], now: number): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  const at = new Date(now);
  await deleteDependencies(db, ids);
  return await db<TaskRow[]>`
    update tasks set state = case when run_at > ${at} then 'scheduled' else 'queued' end, updated_at = ${at}
    where id = any(${ids}::uuid[]) and state = 'waiting'
    returning *`;
}

/** Waiting → cancelled because their condition can no longer hold. */
export async function cancelWaitingTasks(db: Db, ids: string[], now: number): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  const at = new Date(now);
  await deleteDependencies(db, ids);
  return await db<TaskRow[]>`
    update tasks set state = 'cancelled', finished_at = ${at}, updated_at = ${at},
      cancel_reason = 'dependencies ended so that ' || condition || ' can no longer hold'
    where id = any(${ids}::uuid[]) and state = 'waiting'
    returning *`;
}

export async function deleteDependencies(db: Db, taskIds: string[]): Promise<void> {
  if (taskIds.length === 0) return;
  await db`delete from task_dependencies where task_id = any(${taskIds}::uuid[])`;
}
