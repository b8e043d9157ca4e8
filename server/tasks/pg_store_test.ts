/**
 * The Postgres TaskStore on a real database: enqueue and idempotency, the lease-fenced
 * attempt lifecycle with backoff and dead letters, cancel and retry.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { createTestDatabase } from "../db/testing.ts";
import type { NewTask } from "./model.ts";
import { IDEMPOTENCY_TTL_MS } from "./_pg_enqueue.ts";
import { retryDelayMs } from "./_task_rules.ts";
import { createTaskStore } from "./pg_store.ts";
import { hasCode, never, newTask, T0 } from "./pg_store_testing.ts";

const enc = new TextEncoder();

Deno.test("pg task store: enqueue and the attempt lifecycle", async (t) => {
  const db = await createTestDatabase();
  const store = createTaskStore(db.sql);
  /** Enqueues one task and starts it under a fresh lease. */
  const running = async (overrides: Partial<NewTask> = {}, now = T0) => {
    const { tasks: [task] } = await store.enqueue([newTask(overrides)], now);
    const leaseId = crypto.randomUUID();
    const started = await store.start(task.id, leaseId, "w1", now);
    assert.ok(started);
    return { id: task.id, leaseId, started };
  };
  try {
    await t.step(
      "enqueue stores the task as submitted, queued when due and scheduled when later",
      async () => {
        const { tasks, duplicates } = await store.enqueue([
          newTask({ queue: "e1", priority: 7, labels: { team: "a" }, payload: enc.encode("hi") }),
          newTask({ queue: "e1", runAt: T0 + 5000 }),
        ], T0);
        assert.deepEqual(duplicates, [false, false]);
        const [now, later] = tasks;
        assert.equal(now.state, "queued");
        assert.equal(later.state, "scheduled");
        assert.ok(later.seq > now.seq);
        assert.deepEqual(now.payload, enc.encode("hi"));
        assert.deepEqual(now.labels, { team: "a" });
        assert.equal(now.priority, 7);
        assert.equal(now.createdAt, T0);
        assert.equal(now.attemptCount, 0);
        const found = await store.get(now.id);
        assert.deepEqual(found, { task: now, attempts: [] });
        const [queue] = (await store.queueStats(T0)).filter((q) => q.name === "e1");
        assert.equal(queue.paused, false, "the queue row exists from the first enqueue");
      },
    );

    await t.step("get answers null for unknown and malformed ids", async () => {
      assert.equal(await store.get(crypto.randomUUID()), null);
      assert.equal(await store.get("not-a-uuid"), null);
    });

    await t.step("an idempotency key returns the first task, in later calls and within a batch", async () => {
      const first = await store.enqueue([newTask({ queue: "idem", idempotencyKey: "k1" })], T0);
      const again = await store.enqueue(
        [newTask({ queue: "idem", idempotencyKey: "k1", type: "other" })],
        T0 + 1,
      );
      assert.deepEqual(again.duplicates, [true]);
      assert.deepEqual(again.tasks[0], first.tasks[0]);
      const batch = await store.enqueue([
        newTask({ queue: "idem", idempotencyKey: "k2" }),
        newTask({ queue: "idem", idempotencyKey: "k2" }),
        newTask({ queue: "idem2", idempotencyKey: "k2" }),
      ], T0);
      assert.deepEqual(batch.duplicates, [false, true, false]);
      assert.equal(batch.tasks[1].id, batch.tasks[0].id);
      assert.notEqual(batch.tasks[2].id, batch.tasks[0].id, "keys are per queue");
      const odd = 'a,"b"{c}\\d é NULL';
      const oddFirst = await store.enqueue([newTask({ queue: "idem", idempotencyKey: odd })], T0);
      const oddAgain = await store.enqueue([newTask({ queue: "idem", idempotencyKey: odd })], T0);
      assert.deepEqual(oddAgain.duplicates, [true]);
      assert.equal(oddAgain.tasks[0].id, oddFirst.tasks[0].id);
      assert.equal(oddAgain.tasks[0].idempotencyKey, odd);
    });

    await t.step("two concurrent enqueues of one key make one task", async () => {
      const other = createTaskStore(db.sql);
      for (let round = 0; round < 5; round++) {
        const key = `race-${round}`;
        const [a, b] = await Promise.all([
          store.enqueue([newTask({ queue: "race", idempotencyKey: key })], T0),
          other.enqueue([newTask({ queue: "race", idempotencyKey: key })], T0),
        ]);
        assert.equal(a.tasks[0].id, b.tasks[0].id);
        assert.deepEqual([a.duplicates[0], b.duplicates[0]].sort(), [false, true]);
      }
      const [{ count }] = await db.sql<{ count: number }[]>`
        select count(*)::int as count from tasks where queue = 'race'`;
      assert.equal(count, 5);
    });

    await t.step("an idempotency key older than 7 days makes a new task", async () => {
      const first = await store.enqueue([newTask({ queue: "idem-old", idempotencyKey: "k" })], T0);
      const within = await store.enqueue(
        [newTask({ queue: "idem-old", idempotencyKey: "k" })],
        T0 + IDEMPOTENCY_TTL_MS - 1,
      );
      assert.equal(within.tasks[0].id, first.tasks[0].id);
      const after = await store.enqueue(
        [newTask({ queue: "idem-old", idempotencyKey: "k" })],
        T0 + IDEMPOTENCY_TTL_MS,
      );
      assert.deepEqual(after.duplicates, [false]);
      assert.notEqual(after.tasks[0].id, first.tasks[0].id);
      const again = await store.enqueue(
        [newTask({ queue: "idem-old", idempotencyKey: "k" })],
        T0 + IDEMPOTENCY_TTL_MS + 1,
      );
      assert.equal(again.tasks[0].id, after.tasks[0].id, "the new task holds the key for the next 7 days");
    });

    await t.step("start leases a runnable task once and records the attempt", async () => {
      const { tasks: [task] } = await store.enqueue([newTask({ queue: "s1", runAt: T0 + 1000 })], T0);
      assert.equal(await store.start(task.id, "early", "w1", T0 + 999), null, "not due yet");
      const started = await store.start(task.id, "lease-1", "w1", T0 + 1000);
      assert.equal(started?.state, "running");
      assert.equal(started?.attemptCount, 1);
      assert.equal(started?.leaseId, "lease-1");
      assert.equal(started?.workerId, "w1");
      assert.equal(await store.start(task.id, "lease-2", "w2", T0 + 1000), null, "already running");
      const found = await store.get(task.id);
      assert.deepEqual(found?.attempts, [{
        number: 1,
        workerId: "w1",
        leaseId: "lease-1",
        startedAt: T0 + 1000,
        endedAt: null,
        outcome: null,
        error: null,
      }]);
    });

    await t.step(
      "finish with success stores the output; the fence refuses stale and repeated results",
      async () => {
        const { id, leaseId } = await running({ queue: "f1" });
        const stale = await store.finish(
          id,
          "someone-else",
          { ok: true, output: enc.encode("x") },
          T0 + 1,
          never,
        );
        assert.equal(stale, null);
        assert.equal((await store.get(id))?.task.state, "running", "a stale lease changes nothing");
        const done = await store.finish(
          id,
          leaseId,
          { ok: true, output: enc.encode('"ok"') },
          T0 + 50,
          never,
        );
        assert.equal(done?.task.state, "succeeded");
        assert.deepEqual(done?.task.output, enc.encode('"ok"'));
        assert.equal(done?.task.finishedAt, T0 + 50);
        assert.equal(done?.task.leaseId, null);
        assert.deepEqual(done?.runnable, []);
        const repeat = await store.finish(
          id,
          leaseId,
          { ok: true, output: enc.encode("again") },
          T0 + 60,
          never,
        );
        assert.equal(repeat, null);
        const found = await store.get(id);
        assert.deepEqual(found?.task.output, enc.encode('"ok"'));
        assert.equal(found?.attempts[0].outcome, "succeeded");
        assert.equal(found?.attempts[0].endedAt, T0 + 50);
      },
    );

    await t.step(
      "a retryable error is retried after full-jitter backoff, then the task is dead",
      async () => {
        const backoff = { initialMs: 1000, maxMs: 3000, multiplier: 2 };
        const { id, leaseId } = await running({ queue: "b1", maxAttempts: 3, backoff });
        const error = { message: "smtp busy", code: "smtp_421", retryable: true };
        const first = await store.finish(id, leaseId, { ok: false, error }, T0 + 10, () => 0);
        assert.equal(first?.task.state, "scheduled");
        assert.equal(first?.task.runAt, T0 + 10, "random 0 → no delay");
        assert.deepEqual(first?.task.lastError, error);
        assert.deepEqual(first?.runnable, [{
          id,
          queue: "b1",
          priority: 0,
          seq: first!.task.seq,
          runAt: T0 + 10,
          type: "noop",
          group: "",
        }]);

        const lease2 = crypto.randomUUID();
        assert.equal((await store.start(id, lease2, "w1", T0 + 10))?.attemptCount, 2);
        const second = await store.finish(id, lease2, { ok: false, error }, T0 + 20, () => 0.999);
        // Attempt 2: the ceiling is min(3000, 1000 × 2¹) = 2000.
        assert.equal(second?.task.runAt, T0 + 20 + 1998);

        const lease3 = crypto.randomUUID();
        await store.start(id, lease3, "w1", T0 + 5000);
        const last = await store.finish(id, lease3, { ok: false, error }, T0 + 5010, never);
        assert.equal(last?.task.state, "dead");
        assert.equal(last?.task.finishedAt, T0 + 5010);
        assert.deepEqual(last?.runnable, []);
        const found = await store.get(id);
        assert.deepEqual(found?.attempts.map((a) => [a.number, a.outcome, a.error?.code]), [
          [1, "failed", "smtp_421"],
          [2, "failed", "smtp_421"],
          [3, "failed", "smtp_421"],
        ]);
      },
    );

    await t.step("the backoff ceiling grows by the multiplier up to the cap", () => {
      const backoff = { initialMs: 1000, maxMs: 10_000, multiplier: 3 };
      assert.equal(retryDelayMs(backoff, 1, () => 0.999), 999);
      assert.equal(retryDelayMs(backoff, 2, () => 0.999), 2997);
      assert.equal(retryDelayMs(backoff, 3, () => 0.999), 8991);
      assert.equal(retryDelayMs(backoff, 4, () => 0.999), 9990);
      assert.equal(retryDelayMs(backoff, 400, () => 0.5), 5000, "no overflow past the cap");
    });

    await t.step("a non-retryable error makes the task dead at once", async () => {
      const { id, leaseId } = await running({ queue: "b2", maxAttempts: 5 });
      const error = { message: "mailbox does not exist", code: "smtp_550", retryable: false };
      const t1 = await store.finish(id, leaseId, { ok: false, error }, T0 + 10, never);
      assert.equal(t1?.task.state, "dead");
      assert.equal(t1?.task.attemptCount, 1);
    });

    await t.step(
      "an expired lease counts the attempt and goes back with backoff; stale expiries change nothing",
      async () => {
        const { id, leaseId } = await running({ queue: "x1", maxAttempts: 2 });
        assert.equal(await store.expire(id, "other", "lease_expired", T0 + 1, never), null);
        const back = await store.expire(id, leaseId, "lease_expired", T0 + 100, () => 0.5);
        assert.equal(back?.task.state, "scheduled");
        assert.equal(back?.task.runAt, T0 + 100 + 500);
        assert.equal(back?.task.lastError?.code, "lease_expired");
        assert.equal(back?.runnable.length, 1);
        assert.equal(
          await store.expire(id, leaseId, "lease_expired", T0 + 200, never),
          null,
          "already expired",
        );

        const lease2 = crypto.randomUUID();
        await store.start(id, lease2, "w2", T0 + 600);
        const dead = await store.expire(id, lease2, "timed_out", T0 + 700, never);
        assert.equal(dead?.task.state, "dead");
        const found = await store.get(id);
        assert.deepEqual(found?.attempts.map((a) => a.outcome), ["lease_expired", "timed_out"]);
      },
    );

    await t.step("progress is recorded under the current lease only", async () => {
      const { id, leaseId } = await running({ queue: "p1" });
      assert.equal(await store.progress(id, "stale", 10, "no", T0 + 1), false);
      assert.equal(await store.progress(id, leaseId, 40, "halfway-ish", T0 + 2), true);
      const found = await store.get(id);
      assert.deepEqual(found?.task.progress, { percent: 40, message: "halfway-ish", updatedAt: T0 + 2 });
      await store.finish(id, leaseId, { ok: true, output: new Uint8Array() }, T0 + 3, never);
      assert.equal(await store.progress(id, leaseId, 90, "late", T0 + 4), false);
    });

    await t.step("cancel ends unfinished tasks and hands back the lease of a running one", async () => {
      const { tasks: [queued, scheduled] } = await store.enqueue([
        newTask({ queue: "c1" }),
        newTask({ queue: "c1", runAt: T0 + 60_000 }),
      ], T0);
      for (const task of [queued, scheduled]) {
        const result = await store.cancel(task.id, "not needed", T0 + 5);
        assert.equal(result.task.state, "cancelled");
        assert.equal(result.task.cancelReason, "not needed");
        assert.equal(result.task.finishedAt, T0 + 5);
        assert.equal(result.runningLease, null);
      }
      const { id, leaseId } = await running({ queue: "c1" });
      const result = await store.cancel(id, "operator", T0 + 6);
      assert.equal(result.runningLease, leaseId);
      assert.equal(result.task.leaseId, null);
      const found = await store.get(id);
      assert.equal(found?.attempts[0].outcome, "cancelled");
      assert.equal(
        await store.finish(id, leaseId, { ok: true, output: new Uint8Array() }, T0 + 7, never),
        null,
        "the worker's late result is refused",
      );
      await assert.rejects(
        store.cancel(id, "again", T0 + 8),
        hasCode(Code.FailedPrecondition, /is cancelled/),
      );
      await assert.rejects(store.cancel(crypto.randomUUID(), "", T0), hasCode(Code.NotFound));
    });

    await t.step(
      "retry queues failed, dead or cancelled tasks with a fresh budget, and refuses others",
      async () => {
        const { id, leaseId } = await running({ queue: "r1", maxAttempts: 1 });
        const error = { message: "boom", code: "x", retryable: true };
        await store.finish(id, leaseId, { ok: false, error }, T0 + 1, never);
        const retried = await store.retry(id, T0 + 10);
        assert.equal(retried.state, "queued");
        assert.equal(retried.attemptCount, 0);
        assert.equal(retried.runAt, T0 + 10);
        assert.equal(retried.finishedAt, null);
        await assert.rejects(store.retry(id, T0 + 11), hasCode(Code.FailedPrecondition, /is queued/));
        const lease2 = crypto.randomUUID();
        assert.equal((await store.start(id, lease2, "w1", T0 + 12))?.attemptCount, 1);
        const found = await store.get(id);
        assert.deepEqual(found?.attempts.map((a) => a.number), [1, 2], "attempt rows keep counting");
        await assert.rejects(store.retry(crypto.randomUUID(), T0), hasCode(Code.NotFound));

        const { tasks: [cancelled] } = await store.enqueue([newTask({ queue: "r1" })], T0);
        await store.cancel(cancelled.id, "", T0);
        assert.equal((await store.retry(cancelled.id, T0 + 1)).cancelReason, "");
      },
    );
  } finally {
    await db.drop();
  }
});
