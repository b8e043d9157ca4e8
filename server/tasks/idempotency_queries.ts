/**
 * SQL of idempotency keys: unique per queue for a period (7 days in the contract). A key
 * is claimed for a task id before the task is inserted; a conflicting claim takes the key
 * over only when it has expired, decided by the conflicting insert itself so two
 * concurrent enqueues of one key cannot both win.
 */
import type { Db, TaskRow } from "./task_queries.ts";

export interface KeyClaim {
  queue: string;
  key: string;
  taskId: string;
}

/**
 * Claims each key for its task; returns the claims that won (new keys and expired ones).
 * A claim that lost waits for a concurrent winner to commit or roll back first. Keys must
 * be distinct within one call: one statement cannot touch a row twice.
 */
export async function claimIdempotencyKeys(
  db: Db,
  claims: KeyClaim[],
  now: number,
  ttlMs: number,
): Promise<KeyClaim[]> {
  if (claims.length === 0) return [];
  // Column arrays (unnest) rather than a VALUES row per claim: four parameters whatever the
  // batch's size, so one prepared statement serves every batch, and a far smaller Bind.
  const won = await db<{ queue: string; key: string; task_id: string }[]>`
    insert into task_idempotency_keys (queue, key, task_id, expires_at)
    select c.queue, c.key, c.task_id, ${new Date(now + ttlMs)}
    from unnest(${claims.map((c) => c.queue)}::text[], ${claims.map((c) => c.key)}::text[],
      ${claims.map((c) => c.taskId)}::uuid[]) with ordinality as c (queue, key, task_id, n)
    order by c.n
    on conflict (queue, key) do update set task_id = excluded.task_id, expires_at = excluded.expires_at
      where task_idempotency_keys.expires_at <= ${new Date(now)}
    returning queue, key, task_id`;
  return won.map((r) => ({ queue: r.queue, key: r.key, taskId: r.task_id }));
}

/** The tasks that hold these keys now. */
export async function selectTasksByIdempotencyKeys(
  db: Db,
  keys: { queue: string; key: string }[],
): Promise<TaskRow[]> {
  if (keys.length === 0) return [];
  return await db<TaskRow[]>`
    select t.* from task_idempotency_keys k join tasks t on t.id = k.task_id
    where (k.queue, k.key) in (
      select * from unnest(${keys.map((k) => k.queue)}::text[], ${keys.map((k) => k.key)}::text[])
    )`;
}
