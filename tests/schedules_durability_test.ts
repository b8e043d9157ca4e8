/**
 * Schedules are durable: they live in Postgres, so a crash between a tick's enqueue and
 * its commit, a restart after an outage, a Redis FLUSHALL and the broker's rebuild lose
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
import { planOverlap } from "../server/schedules/plan.ts";
import { selectSchedule, toSchedule } from "../server/schedules/schedule_queries.ts";
import { internalsForTests } from "../server/tasks/runtime.ts";
import { TypeDefaultsCache } from "../server/tasks/type_defaults.ts";
import { dropRedisPrefix, startSchedulerInstance } from "./_support/schedule_instances.ts";
import { TEST_REDIS_URL } from "./_support/server.ts";
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
        const [row] = await db.sql<
          { next: Date }[]
        >`select next_fire_at as next from schedules where id = ${made.id}`;
        return row.next.getTime() > T0 + tick ? true : undefined;
      });
    await handled(0);

    await t.step(
      "a crash after a tick's enqueue, before its commit, does not double it on retry",
      async () => {
        clock.set(T0 + 1000);
        await a.schedules.stop();
        const defaults = new TypeDefaultsCache(
          (after, limit) => a.schedules.rt.typeDefaults(after, limit),
          clock,
        );
        await assert.rejects(
          db.sql.begin(async (tx) => {
            const schedule = toSchedule((await selectSchedule(tx, made.id, true))!);
            const plans = planOverlap("allow", [T0 + 1000], { kind: "none" });
            await fireJobs(tx, a.schedules.rt, defaults, [{
              schedule,
              plans,
              manual: false,
              next: T0 + 2000,
            }]);
            throw new Error("crash before commit");
          }),
          /crash before commit/,
        );
        assert.deepEqual(await ticks(), [0, 1000], "the engine committed the task before the crash");
        a.schedules.start();
        await handled(1000);
        assert.deepEqual(await ticks(), [0, 1000], "the retry found the same task by its tick's key");
        const fires = await a.schedules.fires(made.id, 10, "");
        assert.equal(fires.items.filter((f) => f.tickAt === T0 + 1000).length, 1);
      },
    );

    await t.step("a restart after a 5-second outage fires the missed ticks once (catch-up all)", async () => {
      await a.kill();
      clock.set(T0 + 6000);
      a = await startSchedulerInstance(db, prefix, clock);
      await handled(6000);
      assert.deepEqual(await ticks(), [0, 1000, 2000, 3000, 4000, 5000, 6000]);
    });

    await t.step("a Redis FLUSHALL loses no tick, and the broker is rebuilt with them", async () => {
      const raw = new Redis(TEST_REDIS_URL);
      try {
        await raw.flushall();
      } finally {
        raw.disconnect();
      }
      for (let k = 7; k <= 9; k++) {
        clock.set(T0 + k * 1000);
        await handled(k * 1000);
      }
      await a.schedules.rt.rebuildIfNeeded();
      assert.equal(await a.schedules.rt.brokerLostState(), false);
      assert.deepEqual(await ticks(), Array.from({ length: 10 }, (_, i) => i * 1000));
      const { broker } = internalsForTests(a.schedules.rt);
      assert.equal((await broker.counts("durable")).ready, 10, "every fired task is claimable again");
    });
  } finally {
    await a.stop();
    await dropRedisPrefix(prefix);
    await db.drop();
  }
});
