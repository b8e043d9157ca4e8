/**
 * The read side and the queue side of the Postgres TaskStore: paged lists, dead letters,
 * queue figures, pausing, and the broker's rebuild feed.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { createTestDatabase } from "../db/testing.ts";
import type { NewTask, TaskRecord } from "./model.ts";
import { encodeTaskPageToken } from "./_task_rules.ts";
import { createTaskStore } from "./pg_store.ts";
import { hasCode, never, newTask, T0 } from "./pg_store_testing.ts";

const ok = { ok: true as const, output: new Uint8Array() };
const fatal = { ok: false as const, error: { message: "no", code: "bad", retryable: false } };

Deno.test("pg task store: lists, dead letters, queues and the broker feed", async (t) => {
  const db = await createTestDatabase();
  const store = createTaskStore(db.sql);
  const enqueue = async (queue: string, overrides: Partial<NewTask> = {}, now = T0) =>
    (await store.enqueue([newTask({ queue, ...overrides })], now)).tasks[0];
  const run = async (task: TaskRecord, now = T0) => {
    const leaseId = crypto.randomUUID();
    assert.ok(await store.start(task.id, leaseId, "w", now));
    return leaseId;
  };
  const kill = async (task: TaskRecord) => {
    const leaseId = await run(task);
    assert.equal((await store.finish(task.id, leaseId, fatal, T0 + 1, never))?.task.state, "dead");
  };
  try {
    await t.step("list pages newest first across three pages, ties broken by seq", async () => {
      // Three share one created_at, so only seq orders them.
      const made: TaskRecord[] = [];
      for (let i = 0; i < 7; i++) made.push(await enqueue("page", { type: `t${i}` }, T0 + (i < 3 ? 0 : i)));
      const seen: string[] = [];
      let token = "";
      const sizes: number[] = [];
      do {
        const page = await store.list({ queue: "page" }, 3, token);
        sizes.push(page.items.length);
        seen.push(...page.items.map((x) => x.id));
        token = page.nextPageToken;
      } while (token !== "");
      assert.deepEqual(sizes, [3, 3, 1]);
      assert.deepEqual(seen, made.map((x) => x.id).reverse());
      const exact = await store.list({ queue: "page" }, 7, "");
      assert.equal(exact.nextPageToken, "", "no token when the page ends the list");
    });

    await t.step("list filters by state, type and labels", async () => {
      const a = await enqueue("filter", { type: "email.send", labels: { team: "a", env: "prod" } });
      const b = await enqueue("filter", { type: "email.send", labels: { team: "b" }, runAt: T0 + 1000 });
      await enqueue("filter", { type: "noop", labels: { team: "a" } });
      const ids = async (filter: Parameters<typeof store.list>[0]) =>
        (await store.list({ queue: "filter", ...filter }, 50, "")).items.map((x) => x.id).sort();
      assert.deepEqual(await ids({ type: "email.send" }), [a.id, b.id].sort());
      assert.deepEqual(await ids({ state: "scheduled" }), [b.id]);
      assert.deepEqual(await ids({ type: "email.send", labels: { team: "a" } }), [a.id]);
      assert.deepEqual(await ids({ labels: { team: "a", env: "prod" } }), [a.id]);
      assert.equal((await store.list({ type: "email.send" }, 50, "")).items.length, 2, "any queue");
    });

    await t.step("a malformed page token is refused by name", async () => {
      for (const token of ["%%%", btoa("[1]"), btoa('["a", 1]'), btoa("{}"), "bm90IGpzb24"]) {
        await assert.rejects(store.list({}, 10, token), hasCode(Code.InvalidArgument, /page_token/), token);
      }
      const past = await store.list({ queue: "page" }, 10, encodeTaskPageToken({ createdAt: 0, seq: 0 }));
      assert.deepEqual(past.items, []);
    });

    await t.step("dead letters are listed, requeued and purged; other tasks are refused by id", async () => {
      const dead = [await enqueue("dlq"), await enqueue("dlq"), await enqueue("dlq")];
      for (const task of dead) await kill(task);
      const elsewhere = await enqueue("dlq-other");
      await kill(elsewhere);
      const alive = await enqueue("dlq");

      const listed = await store.listDead("dlq", 2, "");
      assert.deepEqual(listed.items.map((x) => x.id), [dead[2].id, dead[1].id]);
      assert.deepEqual((await store.listDead("dlq", 2, listed.nextPageToken)).items.map((x) => x.id), [
        dead[0].id,
      ]);
      assert.equal((await store.listDead(undefined, 50, "")).items.length, 4);

      await assert.rejects(
        store.requeueDead("dlq", [dead[0].id, alive.id], false, T0 + 5),
        hasCode(Code.FailedPrecondition, new RegExp(`task ${alive.id} is not a dead letter of queue dlq`)),
      );
      await assert.rejects(
        store.purgeDead("dlq", [elsewhere.id], false),
        hasCode(Code.FailedPrecondition, new RegExp(elsewhere.id)),
      );
      assert.equal((await store.get(dead[0].id))?.task.state, "dead", "a refused request changes nothing");
      await assert.rejects(
        store.requeueDead("", [], true, T0),
        hasCode(Code.InvalidArgument, /^\[\w+\] queue/),
      );
      await assert.rejects(store.purgeDead("", [], true), hasCode(Code.InvalidArgument, /queue/));

      const [requeued] = await store.requeueDead("", [dead[0].id], false, T0 + 5);
      assert.equal(requeued.state, "queued");
      assert.equal(requeued.attemptCount, 0);
      assert.equal(requeued.runAt, T0 + 5);

      const purged = await store.purgeDead("dlq", [], true);
      assert.deepEqual(purged.map((x) => x.id), [dead[1].id, dead[2].id]);
      assert.equal(await store.get(dead[1].id), null);
      const [{ attempts }] = await db.sql<{ attempts: number }[]>`
        select count(*)::int as attempts from task_attempts where task_id = ${dead[1].id}`;
      assert.equal(attempts, 0, "attempts go with their task");
      assert.deepEqual((await store.requeueDead("dlq-other", [], true, T0 + 6)).map((x) => x.id), [
        elsewhere.id,
      ]);
      assert.deepEqual((await store.listDead(undefined, 50, "")).items, []);
    });

    await t.step(
      "queueStats counts states, the oldest runnable age and the last minute's rates",
      async () => {
        const now = T0 + 120_000;
        await enqueue("st", { runAt: T0 }); // queued since T0: the oldest runnable
        await enqueue("st", { runAt: T0 + 100_000 }, T0 + 100_000);
        await enqueue("st", { runAt: now + 60_000 }); // scheduled, not due
        const dueLater = await enqueue("st", { runAt: T0 + 110_000 }); // scheduled and due: runnable
        const running = await enqueue("st");
        await run(running, now - 1000);
        const parent = await enqueue("st");
        await enqueue("st", { dependsOn: [parent.id] }); // waiting
        await run(parent, T0);

        // Attempts that ended in the window: one success, one dead, one expired lease retried.
        const s = await enqueue("st");
        await store.finish(s.id, await run(s, now - 5000), ok, now - 5000, never);
        const d = await enqueue("st");
        await store.finish(d.id, await run(d, now - 4000), fatal, now - 4000, never);
        const x = await enqueue("st");
        await store.expire(x.id, await run(x, now - 3000), "lease_expired", now - 3000, () => 0.99);
        // Outside the window: ended 61 s ago.
        const old = await enqueue("st");
        await store.finish(old.id, await run(old, now - 61_000), ok, now - 61_000, never);
        // Cancelled attempts are not processed work.
        const c = await enqueue("st");
        await run(c, now - 2000);
        await store.cancel(c.id, "", now - 2000);

        const [stats] = (await store.queueStats(now)).filter((q) => q.name === "st");
        assert.deepEqual(stats, {
          name: "st",
          paused: false,
          waiting: 1,
          // A due scheduled task waits for a worker like a queued one, and is counted with them (as in
          // the oldest queued age): the one due at T0 + 110 s and the expired lease's retry, due after
          // at most a second. Only the one not due yet is scheduled.
          scheduled: 1,
          queued: 4,
          running: 2,
          dead: 1,
          oldestQueuedAgeMs: 120_000,
          processedPerSecond: 1 / 60, // succeeded, as the contract says: the dead and expired ones are failures
          failedPerSecond: 2 / 60,
          concurrencyLimit: 0,
          ratePerSecond: 0,
          rateBurst: 0,
        });
        assert.equal(dueLater.state, "scheduled");
        const [empty] = (await store.queueStats(now)).filter((q) => q.name === "page");
        assert.equal(empty.oldestQueuedAgeMs, now - T0);
        assert.equal(empty.processedPerSecond, 0);
      },
    );

    await t.step("pausing upserts the queue row; pausedQueues lists the paused ones", async () => {
      assert.deepEqual(await store.pausedQueues(), []);
      await store.setPaused("st", true, T0);
      await store.setPaused("never-used", true, T0);
      assert.deepEqual(await store.pausedQueues(), ["never-used", "st"]);
      const stats = await store.queueStats(T0);
      assert.equal(stats.find((q) => q.name === "never-used")?.queued, 0);
      assert.equal(stats.find((q) => q.name === "st")?.paused, true);
      await store.setPaused("st", false, T0 + 1);
      assert.deepEqual(await store.pausedQueues(), ["never-used"]);
      const names = (await store.queueStats(T0)).map((q) => q.name);
      assert.deepEqual(names, [...names].sort(), "in name order");
    });

    await t.step(
      "brokerState yields every live task in seq order, in batches, with leases of running ones",
      async () => {
        const feed = await createTestDatabase();
        try {
          const fresh = createTaskStore(feed.sql);
          const batch = (n: number) =>
            Array.from({ length: n }, (_, i) => newTask({ queue: "feed", priority: i % 10 }));
          const first = (await fresh.enqueue(batch(700), T0)).tasks;
          const second = (await fresh.enqueue(batch(500), T0)).tasks;
          const [done, held] = [first[0], first[1]];
          const doneLease = crypto.randomUUID();
          await fresh.start(done.id, doneLease, "w", T0);
          await fresh.finish(done.id, doneLease, ok, T0, never);
          const heldLease = crypto.randomUUID();
          await fresh.start(held.id, heldLease, "w9", T0);

          const out = [];
          for await (const entry of fresh.brokerState()) out.push(entry);
          const expected = [...first, ...second].filter((x) => x.id !== done.id);
          assert.equal(out.length, expected.length);
          assert.deepEqual(out.map((e) => e.task.id), expected.map((x) => x.id));
          assert.deepEqual(out[0], {
            task: {
              id: held.id,
              queue: "feed",
              priority: 1,
              seq: held.seq,
              runAt: T0,
              type: "noop",
              group: "",
            },
            lease: { leaseId: heldLease, workerId: "w9" },
          });
          assert.equal(out.filter((e) => e.lease !== null).length, 1);
        } finally {
          await feed.drop();
        }
      },
    );
  } finally {
    await db.drop();
  }
});
