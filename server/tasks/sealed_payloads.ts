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
import { base64Of, bytesOfBase64 } from "../db/base64.ts";

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
  const at = new Date(now);
  // One statement for the batch (not one round trip and one socket write per secret), the
  // expired ones deleted in it too. Bodies travel as base64 text: a bytea parameter would go
  // as hex, twice the bytes, and Deno's Buffer encodes hex in JavaScript, base64 natively.
  await tx`
    with expired as (delete from sealed_payloads where expires_at < ${at})
    insert into sealed_payloads (id, task_id, body, created_at, expires_at)
    select s.id, s.task_id, decode(s.body, 'base64'), ${at}, s.expires_at
    from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.taskId)}::uuid[],
      ${rows.map((r) => base64Of(r.body))}::text[],
      ${
    rows.map((r) => new Date(r.expiresAt).toISOString())
  }::timestamptz[]) as s (id, task_id, body, expires_at)`;
}

interface Kept {
  id: string;
  body: Uint8Array;
  expiresAt: number;
}

/**
 * The secrets this process sealed, by task, until the task's first Assign opens them: that
 * Assign then needs no read of `sealed_payloads` (a campaign's window is thousands of mails,
 * each read back whole a few milliseconds after it was written). In memory only, next to the
 * claim cache's task records; no read RPC ever looks here. An entry opens only for the task
 * it was stored for and the reference that task carries, and not once its secret expired;
 * a miss reads Postgres as before. Bounded by count and bytes: past either, the oldest half
 * goes (one short walk over the map, amortised over the puts that filled it).
 */
export class SealedCache {
  readonly #entries = new Map<string, Kept & { keptAt: number }>();
  #bytes = 0;
  /**
   * `maxAgeMs`: a first Assign follows its enqueue within seconds; a secret whose task was
   * assigned by another instance, or ran later, is not kept past this (its Assign reads
   * Postgres). The store also drops a task's entry when the task ends or is purged.
   */
  constructor(
    readonly maxEntries = 20_000,
    readonly maxBytes = 16 * 1024 * 1024,
    readonly maxAgeMs = 60_000,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Keeps the secret sealed for `taskId` (after the commit that stored it, at `now`). */
  put(taskId: string, sealed: Kept, now: number): void {
    this.delete(taskId);
    // Entries are in the order they were kept: the stale ones are at the front.
    for (const [id, kept] of this.#entries) {
      if (now - kept.keptAt <= this.maxAgeMs && kept.expiresAt > now) break;
      this.delete(id);
    }
    this.#entries.set(taskId, { id: sealed.id, body: sealed.body, expiresAt: sealed.expiresAt, keptAt: now });
    this.#bytes += sealed.body.length;
    if (this.#entries.size <= this.maxEntries && this.#bytes <= this.maxBytes) return;
    let drop = Math.ceil(this.#entries.size / 2);
    for (const id of this.#entries.keys()) {
      if (drop-- <= 0) break;
      this.delete(id);
    }
  }

  /** The secret of `taskId` if it was sealed as `sealId` and has not expired; taken out either way. */
  take(taskId: string, sealId: string, now: number): Uint8Array | undefined {
    const kept = this.#entries.get(taskId);
    if (!kept) return undefined;
    this.delete(taskId);
    return kept.id === sealId && kept.expiresAt > now ? kept.body : undefined;
  }

  delete(taskId: string): void {
    const kept = this.#entries.get(taskId);
    if (!kept) return;
    this.#entries.delete(taskId);
    this.#bytes -= kept.body.length;
  }
}

/**
 * The tasks as their worker must receive them: each sealed payload replaced by what it
 * seals. Only for the Assign; a sealed payload that has expired or is gone, or that was
 * sealed for another task, stays a reference, which the handler refuses for good. Secrets
 * `kept` in memory (this process sealed them) are taken from there; the rest are read.
 */
export async function openSealedPayloads(
  sql: Sql,
  tasks: TaskRecord[],
  now: number,
  kept?: SealedCache,
): Promise<TaskRecord[]> {
  const refs = new Map<string, string>();
  const opened = new Map<string, Uint8Array>();
  for (const task of tasks) {
    const id = sealedIdOf(task.payload);
    if (!id) continue;
    const body = kept?.take(task.id, id, now);
    if (body) opened.set(task.id, body);
    else refs.set(task.id, id);
  }
  if (refs.size === 0 && opened.size === 0) return tasks;
  // Keyed by the task it was sealed for: a reference copied into another task finds nothing.
  const bodies = new Map<string, Uint8Array>();
  if (refs.size > 0) {
    // Base64 rather than the bytea itself, which arrives as hex: half the bytes, decoded natively.
    const rows = await sql<{ id: string; task_id: string; body: string }[]>`
      select id, task_id, encode(body, 'base64') as body from sealed_payloads
      where id = any(${[...new Set(refs.values())]}::uuid[]) and task_id = any(${[...refs.keys()]}::uuid[])
        and expires_at > ${new Date(now)}`;
    for (const r of rows) bodies.set(`${r.task_id} ${r.id}`, bytesOfBase64(r.body));
  }
  return tasks.map((task) => {
    const body = opened.get(task.id) ?? bodies.get(`${task.id} ${refs.get(task.id)}`);
    return body ? { ...task, payload: body } : task;
  });
}
