/**
 * Sealed payloads: how a task carries a secret (a verification or reset link, a signed
 * unsubscribe link) without any read RPC showing it. The secret is stored in
 * `sealed_payloads`; the task's payload is only a reference, `{"$sealed":"<uuid>"}`, so
 * GetTask, ListTasks, WatchTasks and ListDeadLetters show nothing worth stealing. The
 * one place it is opened is the Assign sent to the worker that holds the task's lease,
 * over that worker's authenticated stream: a handler in any language sees the payload
 * as it was written, and nothing else ever does. A sealed payload lives until it
 * expires (the life of the secret it carries); expired ones are deleted as new ones
 * are sealed. See docs/WORKERS.md, "Secrets never travel in a payload".
 */
import type { Sql } from "../db/postgres.ts";
import type { TaskRecord } from "./model.ts";

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
 * Stores `body` sealed until `expiresAt` (ms) and returns the reference to enqueue as the
 * task's payload. Sealed payloads that have expired are deleted on the way.
 */
export async function sealPayload(
  sql: Sql,
  body: Uint8Array,
  now: number,
  expiresAt: number,
): Promise<Uint8Array> {
  const id = crypto.randomUUID();
  await sql`delete from sealed_payloads where expires_at < ${new Date(now)}`;
  await sql`
    insert into sealed_payloads (id, body, created_at, expires_at)
    values (${id}, ${body}, ${new Date(now)}, ${new Date(expiresAt)})`;
  return sealedReference(id);
}

/**
 * The tasks as their worker must receive them: each sealed payload replaced by what it
 * seals. Only for the Assign; a sealed payload that has expired or is gone stays a
 * reference, which the handler refuses for good (the secret in it is dead anyway).
 */
export async function openSealedPayloads(sql: Sql, tasks: TaskRecord[], now: number): Promise<TaskRecord[]> {
  const refs = new Map<string, string>();
  for (const task of tasks) {
    const id = sealedIdOf(task.payload);
    if (id) refs.set(task.id, id);
  }
  if (refs.size === 0) return tasks;
  const rows = await sql<{ id: string; body: Uint8Array }[]>`
    select id, body from sealed_payloads
    where id = any(${[...new Set(refs.values())]}::uuid[]) and expires_at > ${new Date(now)}`;
  const bodies = new Map(rows.map((r) => [r.id, new Uint8Array(r.body)]));
  return tasks.map((task) => {
    const body = bodies.get(refs.get(task.id) ?? "");
    return body ? { ...task, payload: body } : task;
  });
}
