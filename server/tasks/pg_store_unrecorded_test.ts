/**
 * The hot path's unrecorded starts (docs/ARCHITECTURE.md, "Delivery"): a claim reads its
 * tasks without a write, the start is recorded with the finish or later, and the row
 * version read at the claim is the fence. A stale result (its task changed since the
 * claim) is refused; an expired lease of an unrecorded start counts as an attempt dated
 * from its claim, but a stale lease records nothing.
 */
import assert from "node:assert/strict";
import { newLeaseId } from "../broker/_lease_id.ts";
import { createTestDatabase } from "../db/testing.ts";
import type { AttemptResult } from "./model.ts";
import { createTaskStore } from "./pg_store.ts";
import { never, newTask, T0 } from "./pg_store_testing.ts";

const ok: AttemptResult = { ok: true, output: new Uint8Array([1]) };

Deno.test("pg task store: starts recorded with the finish, fenced by the row version", async (t) => {
  const db = await createTestDatabase();
  const store = createTaskStore(db.sql);
  // A second store on the same database: its claims miss the first one's cache and read Postgres.
  const other = createTaskStore(db.sql);
  const claim = async (queue: string, n = 1, s = store) => {
    const { tasks } = await store.enqueue(Array.from({ length: n }, () => newTask({ queue })), T0);
    const leases = tasks.map((task) => ({ taskId: task.id, leaseId: newLeaseId(queue, T0 + 1) }));
    return await s.readClaimed(leases, "w1", T0 + 1);
  };
  try {
    await t.step("a claim reads its tasks as running and writes nothing", async () => {
      for (const s of [store, other]) {
        const [task] = await claim("read", 1, s);
        assert.equal(task.state, "running");
        assert.equal(task.attemptNumber, 1);
        assert.equal(task.previousState, "queued");
        const stored = await store.get(task.id);
        assert.equal(stored?.task.state, "queued", "Postgres still holds it queued");
        assert.deepEqual(stored?.attempts, []);
      }
    });

    await t.step("a success records the start and the end in one statement", async () => {
      const [task] = await claim("fast");
      const { tasks: [done] } = await store.finishMany(
        [{
          taskId: task.id,
          leaseId: task.leaseId!,
          result: ok,
          version: task.version,
          workerId: "w1",
          startedAt: T0 + 1,
        }],
        T0 + 5,
        never,
      );
      assert.equal(done?.state, "succeeded");
      assert.equal(done?.attemptCount, 1);
      const stored = await store.get(task.id);
      assert.deepEqual(
        stored?.attempts.map((a) => [a.number, a.workerId, a.leaseId, a.startedAt, a.endedAt, a.outcome]),
        [[1, "w1", task.leaseId, T0 + 1, T0 + 5, "succeeded"]],
      );
    });

    await t.step("a stale result is refused: the task changed since its claim", async () => {
      const [task] = await claim("stale");
      // Its lease expired and the expiry was recorded (the reaper): the row changed, and so its version.
      const expired = await store.expire(task.id, task.leaseId!, "lease_expired", T0 + 3000, () => 0, {
        workerId: "w1",
      });
      assert.equal(expired?.task.state, "scheduled");
      const { tasks: [late] } = await store.finishMany(
        [{
          taskId: task.id,
          leaseId: task.leaseId!,
          result: ok,
          version: task.version,
          workerId: "w1",
          startedAt: T0 + 1,
        }],
        T0 + 3001,
        never,
      );
      assert.equal(late, null, "the late result changes nothing");
      const stored = await store.get(task.id);
      assert.equal(stored?.task.state, "scheduled");
      assert.deepEqual(
        stored?.attempts.map((a) => [a.number, a.leaseId, a.startedAt, a.outcome]),
        [[1, task.leaseId, T0 + 1, "lease_expired"]],
        "the expired attempt counts, dated from its claim",
      );
      assert.equal(
        await store.expire(task.id, task.leaseId!, "lease_expired", T0 + 6000, () => 0, { workerId: "w1" }),
        null,
        "the same lease again (a sweeper restored it late) records nothing",
      );
    });

    await t.step("a cancel fences the claim too, and recordStarts leaves the task alone", async () => {
      const [cancelled, running] = await claim("cancel", 2, other);
      await store.cancel(cancelled.id, "no longer wanted", T0 + 2);
      const recorded = await store.recordStarts(
        [cancelled, running].map((t) => ({
          taskId: t.id,
          leaseId: t.leaseId!,
          version: t.version,
          startedAt: T0 + 1,
        })),
        "w1",
        T0 + 200,
      );
      assert.deepEqual([...recorded], [running.id]);
      assert.equal((await store.get(cancelled.id))?.task.state, "cancelled");
      const stored = await store.get(running.id);
      assert.equal(stored?.task.state, "running");
      assert.equal(stored?.task.leaseId, running.leaseId);
      // Once recorded, its result is fenced by the lease, whatever version it carries.
      const { tasks: [done] } = await store.finishMany(
        [{
          taskId: running.id,
          leaseId: running.leaseId!,
          result: ok,
          version: running.version,
          workerId: "w1",
          startedAt: T0 + 1,
        }],
        T0 + 300,
        never,
      );
      assert.equal(done?.state, "succeeded");
      assert.deepEqual((await store.get(running.id))?.attempts.map((a) => [a.number, a.outcome]), [[
        1,
        "succeeded",
      ]]);
    });

    await t.step("a failure of an unrecorded start is recorded as one, then retried", async () => {
      const [task] = await claim("fail");
      const error = { message: "boom", code: "e", retryable: true };
      const { tasks: [failed] } = await store.finishMany(
        [{
          taskId: task.id,
          leaseId: task.leaseId!,
          result: { ok: false, error },
          version: task.version,
          workerId: "w1",
          startedAt: T0 + 1,
        }],
        T0 + 10,
        () => 0,
      );
      assert.equal(failed?.state, "scheduled");
      assert.deepEqual(
        (await store.get(task.id))?.attempts.map((a) => [a.number, a.outcome, a.startedAt]),
        [[1, "failed", T0 + 1]],
      );
    });
  } finally {
    await db.drop();
  }
});
