/**
 * Schedules are durable: they live in Postgres, so a crash between a tick's enqueue and
 * the record of its fire, a restart after an outage, a Redis FLUSHALL and the broker's rebuild lose
 * no tick beyond what the catch-up policy says, and double none. Real Postgres and Redis,
 * instances as in schedule_instances.ts, a manual clock.
 */
import assert from "node:assert/strict";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Redis } from "ioredis";
import { CatchUpPolicy, OverlapPolicy } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { fireJobs } from "../server/schedules/_fire.ts";
import { CLAIM_MS } from "../server/schedules/scheduler.ts";
import { internalsForTests } from "../server/tasks/runtime.ts";
import { TypeDefaultsCache } from "../server/tasks/type_defaults.ts";
import { startSchedulerInstance } from "./_support/schedule_instances.ts";
import { dropRedisKeys, TEST_REDIS_URL } from "./_support/server.ts";
import { until } from "./_support/until.ts";

const T0 = Date.UTC(2026, 5, 1, 12);

Deno.test("schedules survive crashes, restarts and a Redis flush", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const db = await createTestDatabase();
  const clock = new ManualClock(T0);
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  let a = await startSchedulerInstance(db, prefix, clock);
  try {
    const made = await a.schedules.create({
      name: "durable",
      interval: durationFromMs(1000),
      overlap: OverlapPolicy.ALLOW,
      catchUp: CatchUpPolicy.ALL,
      task: { queue: "durable", type: "tick" },
    });
    const ticks = async () =>
      (await db.sql<{ tick: string }[]>`
        select labels->>'schedule_tick' as tick from tasks where schedule_id = ${made.id} order by 1`)
        .map((r) => Date.parse(r.tick) - T0);
    const handled = (tick: number) =>
      until(`tick ${tick} handled`, async () => {
        const s = await a.schedules.get(made.id);
        return s.nextFireAt! > T0 + tick && s.claimedUntil === null ? true : undefined;
      });
    await handled(0);

    await t.step(
      "a crash after a tick's enqueue, before its fire is recorded, does not double it",
      async () => {
        clock.set(T0 + 1000);
        await a.schedules.stop();
        // The claim and the enqueue happen; the instance dies before recording the fire.
        const scheduler = a.schedules.scheduler;
        const jobs = await scheduler.claim(clock.now());
        assert.deepEqual(jobs.map((j) => j.plans.map((p) => p.tickAt - T0)), [[1000]]);
        const defaults = new TypeDefaultsCache(
          (after, limit) => a.schedules.rt.typeDefaults(after, limit),
          clock,
        );
        await fireJobs(a.schedules.rt, defaults, jobs);
        assert.deepEqual(await ticks(), [0, 1000], "the engine committed the task");
        assert.equal(await scheduler.runOnce(), 0, "the claim holds the schedule meanwhile");
        // Past the claim, the schedule is taken again and its claimed tick fires again: same key, same task.
        clock.set(T0 + 1000 + CLAIM_MS + 1);
        assert.equal(await scheduler.runOnce(), 1);
        const ticked = await ticks();
        assert.deepEqual(ticked.slice(0, 2), [0, 1000], "no second task for tick 1000");
        assert.equal(new Set(ticked).size, ticked.length, "no tick doubled");
        const fires = (await a.schedules.fires(made.id, 100, "")).items;
        assert.equal(fires.filter((f) => f.tickAt === T0 + 1000).length, 1);
        a.schedules.start();
      },
    );

    const everyTickUpTo = (last: number) => Array.from({ length: last / 1000 + 1 }, (_, i) => i * 1000);

    await t.step("a restart after a 5-second outage fires the missed ticks once (catch-up all)", async () => {
      const before = Math.floor((clock.now() - T0) / 1000) * 1000;
      await handled(before);
      await a.kill();
      clock.set(T0 + before + 5000);
      a = await startSchedulerInstance(db, prefix, clock);
      await handled(before + 5000);
      assert.deepEqual(await ticks(), everyTickUpTo(before + 5000));
    });

    await t.step("a Redis FLUSHALL loses no tick, and the broker is rebuilt with them", async () => {
      const raw = new Redis(TEST_REDIS_URL);
      try {
        await raw.flushall();
      } finally {
        raw.disconnect();
      }
      const from = clock.now() - T0;
      for (let k = 1; k <= 3; k++) {
        clock.set(T0 + from + k * 1000);
        await handled(from + k * 1000);
      }
      await a.schedules.rt.rebuildIfNeeded();
      assert.equal(await a.schedules.rt.brokerLostState(), false);
      const all = everyTickUpTo(from + 3000);
      assert.deepEqual(await ticks(), all);
      const { broker } = internalsForTests(a.schedules.rt);
      assert.equal((await broker.counts("durable")).ready, all.length, "every fired task is claimable again");
    });
  } finally {
    await a.stop();
    await dropRedisKeys(prefix);
    await db.drop();
  }
});
