/**
 * The same TaskStore SQL on the embedded PGlite (Postgres 17 in WASM, one session under a
 * pool): every method once, plus concurrent enqueues of one idempotency key and concurrent
 * ends of two dependencies, which there take turns instead of waiting on row locks.
 */
import assert from "node:assert/strict";
import { startEmbeddedPostgres } from "../db/embedded.ts";
import { migrate } from "../db/migrate.ts";
import { connectPostgres } from "../db/postgres.ts";
import { createTaskStore } from "./pg_store.ts";
import { never, newTask, T0 } from "./pg_store_testing.ts";

const ok = { ok: true as const, output: new TextEncoder().encode("done") };

Deno.test("pg task store on embedded PGlite", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh_tasks_pglite_" });
  const db = await startEmbeddedPostgres({ dataDir });
  const sql = connectPostgres(db.url, { max: 4 });
  try {
    await migrate(sql);
    const store = createTaskStore(sql);

    const [x, y] = await Promise.all([
      store.enqueue([newTask({ idempotencyKey: "once", labels: { k: "v" } })], T0),
      store.enqueue([newTask({ idempotencyKey: "once" })], T0),
    ]);
    assert.equal(x.tasks[0].id, y.tasks[0].id);
    assert.deepEqual([x.duplicates[0], y.duplicates[0]].sort(), [false, true]);

    const { tasks: [a, b, c] } = await store.enqueue([
      newTask({ queue: "dag" }),
      newTask({ queue: "dag" }),
      newTask({ queue: "dag", dependsOnBatchIndex: [0, 1], maxAttempts: 2 }),
    ], T0);
    assert.equal(c.state, "waiting");
    await store.start(a.id, "la", "w", T0);
    await store.start(b.id, "lb", "w", T0);
    const [ta, tb] = await Promise.all([
      store.finish(a.id, "la", ok, T0 + 1, never),
      store.finish(b.id, "lb", ok, T0 + 1, never),
    ]);
    assert.deepEqual([...ta!.runnable, ...tb!.runnable].map((r) => r.id), [c.id]);

    await store.start(c.id, "lc", "w", T0 + 2);
    assert.equal(await store.progress(c.id, "lc", 50, "half", T0 + 3), true);
    const retried = await store.finish(
      c.id,
      "lc",
      { ok: false, error: { message: "later", code: "x", retryable: true } },
      T0 + 4,
      () => 0.5,
    );
    assert.equal(retried?.task.runAt, T0 + 4 + 500);
    await store.start(c.id, "lc2", "w", T0 + 600);
    assert.equal((await store.expire(c.id, "lc2", "timed_out", T0 + 700, never))?.task.state, "dead");
    assert.equal((await store.listDead("dag", 10, "")).items[0].id, c.id);
    assert.equal((await store.requeueDead("dag", [c.id], false, T0 + 800))[0].state, "queued");
    await store.start(c.id, "lc3", "w", T0 + 800);
    assert.equal((await store.cancel(c.id, "stop", T0 + 900)).runningLease, "lc3");
    assert.equal((await store.retry(c.id, T0 + 901)).state, "queued");
    assert.deepEqual((await store.get(c.id))?.attempts.map((t) => t.outcome), [
      "failed",
      "timed_out",
      "cancelled",
    ]);

    const first = await store.list({ labels: { k: "v" } }, 1, "");
    assert.equal(first.items[0].id, x.tasks[0].id);
    const page1 = await store.list({ queue: "dag" }, 2, "");
    const page2 = await store.list({ queue: "dag" }, 2, page1.nextPageToken);
    assert.deepEqual([...page1.items, ...page2.items].map((t) => t.id), [c.id, b.id, a.id]);

    await store.setPaused("dag", true, T0);
    assert.deepEqual(await store.pausedQueues(), ["dag"]);
    const stats = await store.queueStats(T0 + 1000);
    assert.deepEqual(stats.map((q) => [q.name, q.queued, q.processedPerSecond * 60]), [
      ["dag", 1, 2], // a and b succeeded; c's failed and timed-out attempts are failures
      ["default", 1, 0],
    ]);
    const live = [];
    for await (const entry of store.brokerState()) live.push(entry.task.id);
    assert.deepEqual(live, [x.tasks[0].id, c.id]);
    assert.equal((await store.purgeDead("dag", [], true)).length, 0);
  } finally {
    await sql.end();
    await db.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
