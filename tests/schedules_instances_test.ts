/**
 * Exactly one task per schedule tick across three instances on one Postgres and Redis,
 * driven by a manual clock through 1,000 ticks of several schedules: none missing, none
 * doubled; then the same with one instance killed mid-run: its connections drop, and the
 * ticks it had claimed are fired by the others once its claim has passed (CLAIM_MS).
 */
import assert from "node:assert/strict";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { OverlapPolicy } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { createTestDatabase, type TestDatabase } from "../server/db/testing.ts";
import { type SchedulerInstance, startSchedulerInstance } from "./_support/schedule_instances.ts";
import { dropRedisKeys } from "./_support/server.ts";
import { until } from "./_support/until.ts";
import { CLAIM_MS } from "../server/schedules/scheduler.ts";

const TICKS = 1000;
const SCHEDULES = 3;

async function run(db: TestDatabase, killAt: number | undefined) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const instances: SchedulerInstance[] = [];
  try {
    for (let i = 0; i < 3; i++) instances.push(await startSchedulerInstance(db, prefix, clock));
    const t0 = clock.now() + 1000;
    const ids: string[] = [];
    for (let i = 0; i < SCHEDULES; i++) {
      const s = await instances[i].schedules.create({
        name: `stream-${i}-${prefix}`,
        interval: durationFromMs(1000),
        startTime: { seconds: BigInt(t0 / 1000), nanos: 0 },
        endTime: { seconds: BigInt((t0 + (TICKS - 1) * 1000) / 1000), nanos: 0 },
        overlap: OverlapPolicy.ALLOW,
        task: { queue: `stream-${i}`, type: "tick" },
      });
      ids.push(s.id);
    }
    let dead = "";
    for (let k = 0; k < TICKS; k++) {
      const tick = t0 + k * 1000;
      clock.set(tick);
      if (k === killAt) {
        dead = instances[2].schedules.rt.serverId;
        await instances[2].kill();
      }
      // Handled: fired and recorded, but for the dead instance's claims, which wait for
      // CLAIM_MS to pass.
      await until(`tick ${k} handled`, async () => {
        const [{ n }] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from schedules
          where (next_fire_at <= ${new Date(tick)} and claimed_until is null)
            or (claimed_until is not null and claimed_by is distinct from ${dead})`;
        if (n === 0) return true;
        // A loop that found the schedules held by an instance's open claim transaction naps
        // until the clock moves; the test's clock stands still, so it wakes the survivors.
        for (const i of instances.slice(0, k >= (killAt ?? TICKS) ? 2 : 3)) i.schedules.scheduler.kick();
        return undefined;
      }, 20_000);
    }
    // The survivors take over what the dead instance had claimed once its claim has passed.
    clock.set(clock.now() + CLAIM_MS + 1000);
    await until("every claim ended", async () => {
      const [{ n }] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from schedules where claimed_until is not null`;
      if (n === 0) return true;
      for (const i of instances.slice(0, 2)) i.schedules.scheduler.kick();
      return undefined;
    }, 20_000);
    const rows = await db.sql<{ schedule_id: string; ticks: number; tasks: number; keys: number }[]>`
      select schedule_id, count(*)::int as tasks, count(distinct idempotency_key)::int as keys,
        count(distinct labels->>'schedule_tick')::int as ticks
      from tasks where schedule_id = any(${ids}) group by schedule_id order by schedule_id`;
    assert.equal(rows.length, SCHEDULES);
    for (const r of rows) {
      assert.deepEqual([r.tasks, r.keys, r.ticks], [TICKS, TICKS, TICKS], `schedule ${r.schedule_id}`);
    }
    const [{ fires }] = await db.sql<{ fires: number }[]>`
      select count(*)::int as fires from schedule_fires where schedule_id = any(${ids}) and outcome = 'enqueued'`;
    assert.equal(fires, TICKS * SCHEDULES);
    const [span] = await db.sql<{ first: Date; last: Date }[]>`
      select min(tick_at) as first, max(tick_at) as last from schedule_fires where schedule_id = any(${ids})`;
    assert.deepEqual([span.first.getTime(), span.last.getTime()], [t0, t0 + (TICKS - 1) * 1000]);
  } finally {
    for (const i of instances) await i.stop();
    await dropRedisKeys(prefix);
  }
}

Deno.test("three instances fire 1,000 ticks of each schedule exactly once", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const db = await createTestDatabase();
  try {
    await run(db, undefined);
  } finally {
    await db.drop();
  }
});

Deno.test("exactly once still, with one of three instances killed mid-run", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const db = await createTestDatabase();
  try {
    await run(db, TICKS / 2);
  } finally {
    await db.drop();
  }
});
