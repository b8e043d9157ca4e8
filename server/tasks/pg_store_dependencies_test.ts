/**
 * Dependencies in the Postgres TaskStore: a waiting task is released when its condition
 * holds and cancelled when it never can, in the transaction that ends its last
 * dependency, also when dependencies end concurrently.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { createTestDatabase } from "../db/testing.ts";
import type { NewTask, TaskRecord } from "./model.ts";
import { judgeDependencies } from "./_task_rules.ts";
import { createTaskStore } from "./pg_store.ts";
import { hasCode, never, newTask, T0 } from "./pg_store_testing.ts";

const ok = { ok: true as const, output: new Uint8Array() };
const fatal = { ok: false as const, error: { message: "no", code: "bad", retryable: false } };

Deno.test("pg task store: dependencies", async (t) => {
  const db = await createTestDatabase();
  const store = createTaskStore(db.sql);
  const enqueue = async (overrides: Partial<NewTask> = {}) =>
    (await store.enqueue([newTask({ queue: "deps", ...overrides })], T0)).tasks[0];
  /** Runs a task to its end: success or a non-retryable failure. */
  const end = async (task: TaskRecord, result: typeof ok | typeof fatal, now = T0 + 10) => {
    const leaseId = crypto.randomUUID();
    assert.ok(await store.start(task.id, leaseId, "w", now));
    const transition = await store.finish(task.id, leaseId, result, now, never);
    assert.ok(transition);
    return transition;
  };
  const state = async (task: TaskRecord) => (await store.get(task.id))?.task.state;
  try {
    await t.step("the verdicts of each condition", () => {
      assert.equal(judgeDependencies("on_success", ["succeeded", "running"]), "wait");
      assert.equal(judgeDependencies("on_success", ["succeeded", "succeeded"]), "release");
      assert.equal(judgeDependencies("on_success", ["queued", "cancelled"]), "cancel");
      assert.equal(judgeDependencies("on_failure", ["dead", "scheduled"]), "wait");
      assert.equal(judgeDependencies("on_failure", ["dead", "cancelled"]), "release");
      assert.equal(judgeDependencies("on_failure", ["running", "succeeded"]), "cancel");
      assert.equal(judgeDependencies("always", ["dead", "waiting"]), "wait");
      assert.equal(judgeDependencies("always", ["dead", "succeeded", "cancelled"]), "release");
    });

    await t.step("on_success: released when the last dependency succeeds", async () => {
      const a = await enqueue();
      const b = await enqueue();
      const c = await enqueue({ dependsOn: [a.id, b.id], priority: 4 });
      assert.equal(c.state, "waiting");
      assert.deepEqual(c.dependsOn, [a.id, b.id]);
      assert.deepEqual((await end(a, ok)).runnable, []);
      assert.equal(await state(c), "waiting");
      const last = await end(b, ok);
      assert.deepEqual(last.runnable, [{
        id: c.id,
        queue: "deps",
        priority: 4,
        seq: c.seq,
        runAt: T0,
        type: "noop",
        group: "",
      }]);
      assert.equal(await state(c), "queued");
    });

    await t.step(
      "a failed dependency cancels on_success dependents, down the graph, and releases on_failure ones",
      async () => {
        const a = await enqueue();
        const c = await enqueue({ dependsOn: [a.id] });
        const d = await enqueue({ dependsOn: [c.id] });
        const e = await enqueue({ dependsOn: [c.id], condition: "on_failure" });
        const f = await enqueue({ dependsOn: [a.id], condition: "on_failure", runAt: T0 + 60_000 });
        const dead = await end(a, fatal);
        assert.equal(dead.task.state, "dead");
        assert.deepEqual(dead.runnable.map((r) => r.id), [e.id, f.id]);
        assert.equal(await state(c), "cancelled");
        assert.equal(await state(d), "cancelled");
        assert.equal(await state(e), "queued");
        assert.equal(await state(f), "scheduled", "released into its own run time");
        assert.match((await store.get(c.id))!.task.cancelReason, /on_success can no longer hold/);
      },
    );

    await t.step("on_failure: cancelled when a dependency succeeds", async () => {
      const a = await enqueue();
      const c = await enqueue({ dependsOn: [a.id], condition: "on_failure" });
      assert.deepEqual((await end(a, ok)).runnable, []);
      assert.equal(await state(c), "cancelled");
    });

    await t.step("always: released once every dependency ended, whatever the outcome", async () => {
      const a = await enqueue();
      const b = await enqueue();
      const c = await enqueue({ dependsOn: [a.id, b.id], condition: "always" });
      assert.deepEqual((await end(a, fatal)).runnable, []);
      assert.deepEqual((await end(b, ok)).runnable.map((r) => r.id), [c.id]);
    });

    await t.step("cancelling a dependency settles its dependents and returns the released ones", async () => {
      const a = await enqueue();
      const c = await enqueue({ dependsOn: [a.id], condition: "always" });
      const d = await enqueue({ dependsOn: [a.id] });
      const result = await store.cancel(a.id, "changed my mind", T0 + 1);
      assert.deepEqual(result.runnable.map((r) => r.id), [c.id]);
      assert.equal(await state(d), "cancelled");
      const waiting = await enqueue({ dependsOn: [c.id] });
      await store.cancel(waiting.id, "", T0 + 2);
      const [{ edges }] = await db.sql<{ edges: number }[]>`
        select count(*)::int as edges from task_dependencies where task_id = ${waiting.id}`;
      assert.equal(edges, 0, "a cancelled waiting task leaves no edges");
    });

    await t.step("a batch refers to its earlier tasks by index", async () => {
      const { tasks } = await store.enqueue([
        newTask({ queue: "batch" }),
        newTask({ queue: "batch", dependsOnBatchIndex: [0] }),
        newTask({ queue: "batch", dependsOnBatchIndex: [0, 1], condition: "always" }),
      ], T0);
      const [a, b, c] = tasks;
      assert.deepEqual(tasks.map((x) => x.state), ["queued", "waiting", "waiting"]);
      assert.deepEqual(b.dependsOn, [a.id]);
      assert.deepEqual(c.dependsOn, [a.id, b.id]);
      await end(a, fatal);
      assert.equal(await state(b), "cancelled");
      assert.equal(await state(c), "queued", "b's cancellation ended c's last dependency");
    });

    await t.step("dependencies already ended are judged at enqueue", async () => {
      const a = await enqueue();
      await end(a, ok);
      assert.equal((await enqueue({ dependsOn: [a.id] })).state, "queued");
      assert.equal((await enqueue({ dependsOn: [a.id], runAt: T0 + 5 })).state, "scheduled");
      const never = await enqueue({ dependsOn: [a.id], condition: "on_failure" });
      assert.equal(never.state, "cancelled");
      assert.equal(never.finishedAt, T0);
    });

    await t.step("an unknown dependency is refused by field and nothing is stored", async () => {
      const count = async () =>
        (await db.sql<{ n: number }[]>`select count(*)::int as n from tasks where queue = 'unknown-dep'`)[0]
          .n;
      const ghost = crypto.randomUUID();
      await assert.rejects(
        store.enqueue([newTask({ queue: "unknown-dep", dependsOn: [ghost] })], T0),
        hasCode(Code.InvalidArgument, new RegExp(`^\\[invalid_argument\\] task\\.depends_on: task ${ghost}`)),
      );
      await assert.rejects(
        store.enqueue([
          newTask({ queue: "unknown-dep" }),
          newTask({ queue: "unknown-dep", dependsOn: ["x"] }),
        ], T0),
        hasCode(Code.InvalidArgument, /tasks\[1\]\.depends_on/),
      );
      await assert.rejects(
        store.enqueue([newTask({ queue: "unknown-dep", dependsOnBatchIndex: [0] })], T0),
        hasCode(Code.InvalidArgument, /depends_on_batch_index/),
      );
      assert.equal(await count(), 0);
    });

    await t.step("a purged dead dependency counts as dead", async () => {
      const a = await enqueue();
      const b = await enqueue();
      const c = await enqueue({ dependsOn: [a.id, b.id], condition: "always" });
      await end(a, fatal);
      await store.purgeDead("deps", [a.id], false);
      assert.deepEqual((await end(b, ok)).runnable.map((r) => r.id), [c.id]);
    });

    await t.step("two dependencies ending at once release their dependent exactly once", async () => {
      const other = createTaskStore(db.sql);
      for (let round = 0; round < 8; round++) {
        const a = await enqueue();
        const b = await enqueue();
        const c = await enqueue({ dependsOn: [a.id, b.id] });
        const [la, lb] = [crypto.randomUUID(), crypto.randomUUID()];
        await store.start(a.id, la, "w", T0);
        await store.start(b.id, lb, "w", T0);
        const [ta, tb] = await Promise.all([
          store.finish(a.id, la, ok, T0 + 1, never),
          other.finish(b.id, lb, ok, T0 + 1, never),
        ]);
        const released = [...ta!.runnable, ...tb!.runnable].map((r) => r.id);
        assert.deepEqual(released, [c.id], `round ${round}`);
        assert.equal(await state(c), "queued");
      }
    });

    await t.step("a dependent enqueued while its dependency ends is never left waiting", async () => {
      for (let round = 0; round < 8; round++) {
        const a = await enqueue();
        const lease = crypto.randomUUID();
        await store.start(a.id, lease, "w", T0);
        const [finished, enqueued] = await Promise.all([
          store.finish(a.id, lease, ok, T0 + 1, never),
          store.enqueue([newTask({ queue: "deps", dependsOn: [a.id] })], T0 + 1),
        ]);
        const child = enqueued.tasks[0];
        const releasedByFinish = finished!.runnable.some((r) => r.id === child.id);
        assert.ok(
          child.state === "queued" || releasedByFinish,
          `round ${round}: the child was released by the enqueue or by the finish`,
        );
        assert.equal(await state(child), "queued");
      }
    });
  } finally {
    await db.drop();
  }
});
