/**
 * EnqueueBatch inside one transaction: idempotency keys decide which entries are new
 * tasks, dependencies (by id or by batch index) decide each new task's first state, and
 * existing dependencies are share-locked so none of them can end unseen meanwhile.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { insertDependencies } from "./dependency_queries.ts";
import { claimIdempotencyKeys, type KeyClaim, selectTasksByIdempotencyKeys } from "./idempotency_queries.ts";
import type { NewTask, TaskRecord, TaskState } from "./model.ts";
import { insertQueues } from "./queue_queries.ts";
import {
  type Db,
  insertTasks,
  selectTaskStatesForShare,
  type TaskInsert,
  type TaskRow,
  toTaskRecord,
} from "./task_queries.ts";
import { judgeDependencies, TASK_ID } from "./_task_rules.ts";

/** How long an idempotency key keeps returning its first task (the contract says 7 days). */
export const IDEMPOTENCY_TTL_MS = 7 * 24 * 3600_000;

interface Planned {
  /** The task's id: fresh, or the existing task's when its idempotency key was taken. */
  id: string;
  /** Set when this entry is a duplicate of an existing task or of an earlier one in the batch. */
  existing?: TaskRow;
  sameAs?: number;
}

/** Resolves idempotency keys: which entries are new tasks and which return an existing one. */
async function planIdentities(tx: Db, tasks: NewTask[], now: number): Promise<Planned[]> {
  const planned: Planned[] = tasks.map(() => ({ id: crypto.randomUUID() }));
  const firstOfKey = new Map<string, number>();
  const claims: KeyClaim[] = [];
  tasks.forEach((t, i) => {
    if (t.idempotencyKey === "") return;
    const key = `${t.queue}\u0000${t.idempotencyKey}`;
    const first = firstOfKey.get(key);
    if (first !== undefined) planned[i].sameAs = first;
    else {
      firstOfKey.set(key, i);
      claims.push({ queue: t.queue, key: t.idempotencyKey, taskId: planned[i].id });
    }
  });
  // In key order, so two batches claiming the same keys lock them in the same order: no deadlock.
  claims.sort((a, b) =>
    a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0
  );
  const won = new Set(
    (await claimIdempotencyKeys(tx, claims, now, IDEMPOTENCY_TTL_MS)).map((c) => c.taskId),
  );
  const lost = claims.filter((c) => !won.has(c.taskId));
  const holders = new Map(
    (await selectTasksByIdempotencyKeys(tx, lost)).map((r) => [`${r.queue}\u0000${r.idempotency_key}`, r]),
  );
  for (const claim of lost) {
    const i = firstOfKey.get(`${claim.queue}\u0000${claim.key}`)!;
    const holder = holders.get(`${claim.queue}\u0000${claim.key}`);
    // The claim statement locked the key row, so its task cannot have been purged since.
    if (!holder) throw new Error(`idempotency key ${claim.key} of queue ${claim.queue} has no task`);
    planned[i] = { id: holder.id, existing: holder };
  }
  planned.forEach((p, i) => {
    if (p.sameAs !== undefined) planned[i] = { ...planned[p.sameAs], sameAs: p.sameAs };
  });
  return planned;
}

/**
 * Inserts the new tasks of `tasks` and returns every entry's task. `knownQueues` holds
 * queues whose row surely exists; the caller adds the batch's queues after the commit.
 * Tasks with no idempotency key and no dependency, of known queues, take exactly one
 * statement (the insert): the store then runs it outside a transaction.
 */
export async function enqueueTasks(
  tx: Db,
  tasks: NewTask[],
  now: number,
  knownQueues: ReadonlySet<string>,
): Promise<{ tasks: TaskRecord[]; duplicates: boolean[] }> {
  const newQueues = [...new Set(tasks.map((t) => t.queue))].filter((q) => !knownQueues.has(q)).sort();
  await insertQueues(tx, newQueues, now);
  const planned = await planIdentities(tx, tasks, now);
  // By index: a duplicate within the batch shares its first task's id but is not inserted again.
  const isFresh = planned.map((p) => !p.existing && p.sameAs === undefined);
  const fresh = new Set(planned.filter((_, i) => isFresh[i]).map((p) => p.id));
  const field = (i: number) => tasks.length === 1 ? "task" : `tasks[${i}]`;

  const deps = tasks.map((t, i) => {
    const ids = t.dependsOn.map((id) => id.toLowerCase());
    for (const ref of t.dependsOnBatchIndex) {
      if (!Number.isInteger(ref) || ref < 0 || ref >= i) {
        const what = `${ref} is not an earlier task of the batch: name tasks before this one`;
        throw new ConnectError(`${field(i)}.depends_on_batch_index: ${what}`, Code.InvalidArgument);
      }
      ids.push(planned[ref].id);
    }
    return [...new Set(ids)];
  });
  const outside = [...new Set(deps.filter((_, i) => isFresh[i]).flat())]
    .filter((id) => !fresh.has(id)).sort();
  const known = outside.filter((id) => TASK_ID.test(id));
  const states = new Map<string, TaskState>(
    (await selectTaskStatesForShare(tx, known)).map((r) => [r.id, r.state]),
  );

  const inserts: TaskInsert[] = [];
  const edges: { task_id: string; depends_on: string }[] = [];
  tasks.forEach((t, i) => {
    if (!isFresh[i]) return;
    const id = planned[i].id;
    const missing = deps[i].find((d) => !states.has(d));
    if (missing) {
      throw new ConnectError(
        `${field(i)}.depends_on: task ${missing} does not exist: depend on tasks that were enqueued`,
        Code.InvalidArgument,
      );
    }
    const verdict = deps[i].length === 0 ? "release" : judgeDependencies(
      t.condition,
      deps[i].map((d) => states.get(d)!),
    );
    const state: TaskState = verdict === "wait"
      ? "waiting"
      : verdict === "cancel"
      ? "cancelled"
      : t.runAt > now
      ? "scheduled"
      : "queued";
    states.set(id, state);
    if (state === "waiting") edges.push(...deps[i].map((d) => ({ task_id: id, depends_on: d })));
    inserts.push({
      ...t,
      id,
      state,
      dependsOn: deps[i],
      cancelReason: state === "cancelled"
        ? `dependencies ended so that ${t.condition} can no longer hold`
        : "",
      scheduleId: t.scheduleId ?? null,
      limitGroup: t.limitGroup || null,
      traceparent: t.traceparent || null,
    });
  });
  const rows = new Map((await insertTasks(tx, inserts, now)).map((r) => [r.id, r]));
  await insertDependencies(tx, edges);
  return {
    tasks: planned.map((p) => toTaskRecord(p.existing ?? rows.get(p.id)!)),
    duplicates: isFresh.map((f) => !f),
  };
}
