/**
 * Group commit of single enqueues (_enqueue_group.ts): calls that arrive while an insert
 * is in flight share the next one, and each caller is answered only once the insert
 * holding its task has finished; a failed insert fails only its own callers.
 */
import assert from "node:assert/strict";
import { EnqueueGroup, groupable } from "./_enqueue_group.ts";
import type { NewTask, TaskRecord } from "./model.ts";
import { newTask } from "./pg_store_testing.ts";

/** A store whose inserts finish when the test says, recording what each carried. */
function gatedStore() {
  const inserts: Array<{ tasks: NewTask[]; finish: (error?: Error) => void }> = [];
  const store = (tasks: NewTask[]) =>
    new Promise<TaskRecord[]>((resolve, reject) => {
      inserts.push({
        tasks,
        finish: (error) =>
          error ? reject(error) : resolve(tasks.map((t) => ({ id: t.type } as unknown as TaskRecord))),
      });
    });
  return { inserts, store };
}

Deno.test("concurrent single enqueues share one insert, each answered after its own commit", async () => {
  const { inserts, store } = gatedStore();
  const group = new EnqueueGroup(store);
  const answered: string[] = [];
  const call = (type: string) => group.add(newTask({ type })).then((t) => answered.push(t.id));
  const first = call("a");
  assert.equal(inserts.length, 1, "an idle call goes at once");
  const rest = Array.from({ length: 49 }, (_, i) => call(`b${i}`));
  await Promise.resolve();
  assert.equal(inserts.length, 1, "calls arriving meanwhile wait for the insert in flight");
  assert.deepEqual(answered, [], "nobody is answered before the commit");
  inserts[0].finish();
  await first;
  assert.deepEqual(answered, ["a"]);
  // The 49 that waited go together in one insert, in arrival order.
  for (let i = 0; i < 10 && inserts.length < 2; i++) await Promise.resolve();
  assert.equal(inserts.length, 2);
  assert.deepEqual(inserts[1].tasks.map((t) => t.type), Array.from({ length: 49 }, (_, i) => `b${i}`));
  assert.equal(answered.length, 1, "still waiting for their own commit");
  inserts[1].finish();
  await Promise.all(rest);
  assert.equal(answered.length, 50);
});

Deno.test("a failed grouped insert fails its own callers only", async () => {
  const { inserts, store } = gatedStore();
  const group = new EnqueueGroup(store);
  const first = group.add(newTask({ type: "a" }));
  const second = group.add(newTask({ type: "b" }));
  inserts[0].finish(new Error("connection lost"));
  await assert.rejects(first, /connection lost/);
  for (let i = 0; i < 10 && inserts.length < 2; i++) await Promise.resolve();
  inserts[1].finish();
  assert.equal((await second).id, "b");
});

Deno.test("only plain tasks are grouped", () => {
  assert.equal(groupable(newTask()), true);
  assert.equal(groupable(newTask({ idempotencyKey: "k" })), false);
  assert.equal(groupable(newTask({ dependsOn: [crypto.randomUUID()] })), false);
  assert.equal(groupable(newTask({ dependsOnBatchIndex: [0] })), false);
});
