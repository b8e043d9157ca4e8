/**
 * The batch paths of the Postgres TaskStore, which a worker session uses for every
 * claim (startMany) and every group of results (finishMany): the lease fence, order,
 * mixed outcomes and dependents hold for each task of a batch as they do alone.
 */
import assert from "node:assert/strict";
import { countingPool, createTestDatabase } from "../db/testing.ts";
import type { AttemptResult } from "./model.ts";
import { createTaskStore } from "./pg_store.ts";
import { never, newTask, T0 } from "./pg_store_testing.ts";

Deno.test("pg task store: batches of starts and results", async (t) => {
  const db = await createTestDatabase();
  const store = createTaskStore(db.sql);
  const ok = (bytes: number[] = []): AttemptResult => ({ ok: true, output: new Uint8Array(bytes) });
  try {
    await t.step(
      "startMany starts the runnable tasks of a claim, in claim order, each with its attempt",
      async () => {
        const { tasks } = await store.enqueue(
          [
            newTask({ queue: "sm" }),
            newTask({ queue: "sm" }),
            newTask({ queue: "sm" }),
            newTask({ queue: "sm" }),
          ],
          T0,
        );
        const [a, b, c, d] = tasks;
        await store.cancel(c.id, "changed my mind", T0);
        const leases = [d, c, a, b].map((task, i) => ({ taskId: task.id, leaseId: `sm/${i}` }));
        const started = await store.startMany(
          [...leases, { taskId: "not-a-uuid", leaseId: "sm/x" }],
          "w1",
          T0 + 1,
        );
        assert.deepEqual(
          started.map((s) => s.id),
          [d.id, a.id, b.id],
          "the cancelled and the malformed are left out",
        );
        for (const s of started) {
          assert.equal(s.state, "running");
          assert.equal(s.workerId, "w1");
          assert.equal(s.attemptCount, 1);
          assert.equal(s.leaseId, leases.find((l) => l.taskId === s.id)?.leaseId);
        }
        const attempts = (await store.get(a.id))?.attempts;
        assert.deepEqual(attempts?.map((x) => [x.number, x.leaseId, x.startedAt]), [[1, "sm/2", T0 + 1]]);
        assert.deepEqual(await store.startMany(leases, "w2", T0 + 2), [], "running tasks do not start again");
        assert.deepEqual(await store.startMany([], "w1", T0), []);
      },
    );

    await t.step("finishMany records each result under its own fence, in one transaction", async () => {
      const dependency = (await store.enqueue([newTask({ queue: "fm" })], T0)).tasks[0];
      const { tasks } = await store.enqueue([
        newTask({ queue: "fm" }),
        newTask({ queue: "fm" }),
        newTask({ queue: "fm", maxAttempts: 3 }),
        newTask({ queue: "fm", maxAttempts: 1 }),
        newTask({ queue: "fm-child", dependsOn: [dependency.id] }),
      ], T0);
      const [plain, stale, retried, dying, child] = tasks;
      assert.equal(child.state, "waiting");
      const running = [dependency, plain, stale, retried, dying];
      await store.startMany(running.map((x, i) => ({ taskId: x.id, leaseId: `fm/${i}` })), "w1", T0 + 1);
      const error = { message: "boom", code: "e", retryable: true };
      const binary = [0, 255, 128, 10];
      const { tasks: finished, runnable } = await store.finishMany(
        [
          { taskId: plain.id, leaseId: "fm/1", result: ok(binary) },
          { taskId: stale.id, leaseId: "fm/not-its-lease", result: ok() },
          { taskId: retried.id, leaseId: "fm/3", result: { ok: false, error } },
          { taskId: dependency.id, leaseId: "fm/0", result: ok() },
          { taskId: dying.id, leaseId: "fm/4", result: { ok: false, error } },
          { taskId: "not-a-uuid", leaseId: "fm/x", result: ok() },
        ],
        T0 + 10,
        () => 0.5,
      );

      assert.deepEqual(
        finished.map((f) => f?.state ?? null),
        ["succeeded", null, "scheduled", "succeeded", "dead", null],
        "results line up with the input; a stale lease and a malformed id change nothing",
      );
      assert.deepEqual(finished[0]?.output, new Uint8Array(binary), "output bytes survive the batch");
      assert.equal((await store.get(stale.id))?.task.state, "running");
      assert.deepEqual(
        runnable.map((r) => r.id).sort(),
        [retried.id, child.id].sort(),
        "the retry and the released dependent become runnable",
      );
      assert.equal((await store.get(child.id))?.task.state, "queued");
      for (const [task, outcome] of [[plain, "succeeded"], [retried, "failed"], [dying, "failed"]] as const) {
        const attempts = (await store.get(task.id))?.attempts ?? [];
        assert.deepEqual(attempts.map((a) => [a.outcome, a.endedAt]), [[outcome, T0 + 10]]);
      }
      const again = await store.finishMany(
        [{ taskId: plain.id, leaseId: "fm/1", result: ok() }],
        T0 + 11,
        never,
      );
      assert.deepEqual(again.tasks, [null], "a result is recorded once");
      assert.deepEqual((await store.finishMany([], T0, never)).tasks, []);
    });
    await t.step(
      "a worker's refusal (worker_draining, no_free_slot) is retried without counting an attempt",
      async () => {
        const { tasks } = await store.enqueue(
          [newTask({ queue: "rf", maxAttempts: 1 }), newTask({ queue: "rf", maxAttempts: 1 })],
          T0,
        );
        const [refused, failed] = tasks;
        await store.startMany(
          [{ taskId: refused.id, leaseId: "rf/1" }, { taskId: failed.id, leaseId: "rf/2" }],
          "w1",
          T0,
        );
        const draining = { message: "worker is draining", code: "worker_draining", retryable: true };
        const { tasks: [back, dead] } = await store.finishMany(
          [
            { taskId: refused.id, leaseId: "rf/1", result: { ok: false, error: draining } },
            // The same code, not retryable, is a handler's own failure, not a refusal.
            {
              taskId: failed.id,
              leaseId: "rf/2",
              result: { ok: false, error: { ...draining, retryable: false } },
            },
          ],
          T0 + 1,
          () => 0.5,
        );
        assert.equal(back?.state, "scheduled", "its only attempt was not spent");
        assert.equal(back?.attemptCount, 0);
        assert.equal(dead?.state, "dead");
        const history = (await store.get(refused.id))?.attempts ?? [];
        assert.deepEqual(history.map((a) => [a.number, a.outcome, a.error?.code]), [[
          1,
          "failed",
          "worker_draining",
        ]]);
        const again = await store.start(refused.id, "rf/3", "w2", T0 + 60_000);
        assert.equal(again?.attemptCount, 1, "the next start is its first counted attempt");
      },
    );
  } finally {
    await db.drop();
  }
});

Deno.test("pg task store: a plain enqueue is one statement, with no transaction around it", async () => {
  const db = await createTestDatabase();
  const { sql: counted, statements } = countingPool(db.url);
  try {
    const store = createTaskStore(counted);
    await store.enqueue([newTask({ queue: "plain" })], T0);
    const sent = async (call: () => Promise<unknown>) => {
      statements.length = 0;
      await call();
      return statements.map((q) => q.trim().split(/\s+/)[0].toLowerCase());
    };
    assert.deepEqual(await sent(() => store.enqueue([newTask({ queue: "plain" })], T0)), ["insert"]);
    assert.deepEqual(
      await sent(() => store.enqueue([newTask({ queue: "plain" }), newTask({ queue: "plain" })], T0)),
      ["insert"],
      "a batch of plain tasks too",
    );
    // Anything more than one statement keeps its transaction.
    for (
      const task of [
        newTask({ queue: "plain", idempotencyKey: "k" }),
        newTask({ queue: "never-seen" }),
      ]
    ) {
      const kinds = await sent(() => store.enqueue([task], T0));
      assert.equal(kinds[0], "begin", `${JSON.stringify(kinds)} starts with begin`);
      assert.equal(kinds.at(-1), "commit");
    }
  } finally {
    await counted.end();
    await db.drop();
  }
});

Deno.test("pg task store: every enqueued task's queue has its row, whichever path inserted it", async () => {
  const db = await createTestDatabase();
  try {
    const store = createTaskStore(db.sql);
    // New queues in one batch, in a transaction (unknown queues) and then as one plain statement.
    await store.enqueue([newTask({ queue: "qa" }), newTask({ queue: "qb" }), newTask({ queue: "qa" })], T0);
    await store.enqueue([newTask({ queue: "qa" }), newTask({ queue: "qb" })], T0);
    await store.enqueue([newTask({ queue: "qc", idempotencyKey: "k1" })], T0);
    // A second store knows no queue yet: it inserts the rows again, which changes nothing.
    await createTaskStore(db.sql).enqueue([newTask({ queue: "qc" }), newTask({ queue: "qd" })], T0);
    const orphans = await db.sql<{ queue: string }[]>`
      select distinct t.queue from tasks t where not exists (select 1 from queues q where q.name = t.queue)`;
    assert.deepEqual(orphans.map((o) => o.queue), [], "no task names a queue without a row");
    const queues = await db.sql<{ name: string }[]>`select name from queues order by name`;
    assert.deepEqual(queues.map((q) => q.name), ["qa", "qb", "qc", "qd"]);
    const [{ count }] = await db.sql<{ count: number }[]>`select count(*)::int as count from tasks`;
    assert.equal(count, 8);
  } finally {
    await db.drop();
  }
});
