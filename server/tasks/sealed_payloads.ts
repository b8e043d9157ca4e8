/**
 * Sealed payloads: how a task carries a secret (a verification or reset link, a signed
 * unsubscribe link) without any read RPC showing it. The secret is stored in
 * `sealed_payloads`; the task's payload is only a reference, `{"$sealed":"<uuid>"}`, so
 * GetTask, ListTasks, WatchTasks and ListDeadLetters show nothing worth stealing. The
 * one place it is opened is the Assign sent to the worker that holds the task's lease,
 * over that worker's authenticated stream: a handler in any language sees the payload
 * as it was written, and nothing else ever does.
 *
 * A sealed payload belongs to the one task it was sealed for: it is stored in the same
 * transaction as that task, with the task's id, and opened only for that task. Copying
 * the reference (any viewer reads it) into a task of one's own opens nothing, and
 * Enqueue refuses a payload shaped like a reference anyway (_spec.ts). A sealed payload
 * lives until its task succeeds (a trigger deletes it, migration 0011) or it expires
 * (the life of the secret it carries); a dead or cancelled task keeps it so a retry can
 * still send it. Expired ones are deleted as new ones are sealed. See docs/WORKERS.md,
 * "Secrets never travel in a payload".
 */
import type { Sql } from "../db/postgres.ts";
import type postgres from "postgres";
import type { NewTask, TaskRecord } from "./model.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Every reference starts with these bytes: a cheap test before parsing any payload. */
const REFERENCE_START = encoder.encode('{"$sealed":"');

/** The payload that stands for sealed payload `id`. */
export function sealedReference(id: string): Uint8Array {
  return encoder.encode(JSON.stringify({ $sealed: id }));
}

/** The sealed payload id a task payload refers to, or undefined for any other payload. */
export function sealedIdOf(payload: Uint8Array): string | undefined {
  if (payload.length > 64 || payload.length < REFERENCE_START.length) return undefined;
  for (let i = 0; i < REFERENCE_START.length; i++) if (payload[i] !== REFERENCE_START[i]) return undefined;
  try {
    const id = JSON.parse(decoder.decode(payload)).$sealed;
    return typeof id === "string" && /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stores the sealed secrets of freshly enqueued tasks (`NewTask.sealed`), each bound to its
 * task, inside the enqueue's transaction (`tx`), so the task and its secret commit together
 * and before the broker hears of the task. A repeated idempotency key returns the first task
 * and seals nothing. Sealed payloads that have expired are deleted on the way.
 */
export async function insertSealedPayloads(
  tx: postgres.ISql,
  tasks: NewTask[],
  stored: { tasks: TaskRecord[]; duplicates: boolean[] },
  now: number,
): Promise<void> {
  const rows = tasks.flatMap((t, i) =>
    t.sealed && !stored.duplicates[i] ? [{ ...t.sealed, taskId: stored.tasks[i].id }] : []
  );
  if (rows.length === 0) return;
  await tx`delete from sealed_payloads where expires_at < ${new Date(now)}`;
  for (const row of rows) {
    await tx`
      insert into sealed_payloads (id, task_id, body, created_at, expires_at)
      values (${row.id}, ${row.taskId}, ${row.body}, ${new Date(now)}, ${new Date(row.expiresAt)})`;
  }
}

/**
 * The tasks as their worker must receive them: each sealed payload replaced by what it
 * seals. Only for the Assign; a sealed payload that has expired or is gone, or that was
 * sealed for another task, stays a reference, which the handler refuses for good.
 */
export async function openSealedPayloads(sql: Sql, tasks: TaskRecord[], now: number): Promise<TaskRecord[]> {
  const refs = new Map<string, string>();
  for (const task of tasks) {
    const id = sealedIdOf(task.payload);
    if (id) refs.set(task.id, id);
  }
  if (refs.size === 0) return tasks;
  const rows = await sql<{ id: string; task_id: string; body: Uint8Array }[]>`
    select id, task_id, body from sealed_payloads
    where id = any(${[...new Set(refs.values())]}::uuid[]) and task_id = any(${[...refs.keys()]}::uuid[])
      and expires_at > ${new Date(now)}`;
  // Keyed by the task it was sealed for: a reference copied into another task finds nothing.
  const bodies = new Map(rows.map((r) => [`${r.task_id} ${r.id}`, new Uint8Array(r.body)]));
  return tasks.map((task) => {
    const body = bodies.get(`${task.id} ${refs.get(task.id)}`);
    return body ? { ...task, payload: body } : task;
  });
}
