/**
 * The scheduler loop on a manual clock never parks with a due schedule unclaimed: not when
 * the clock jumps past a schedule's tick while an iteration is between its claim and its
 * look at the next due tick (a test's clock.set racing the iteration a launch's kick
 * started: the daily campaign test hung so in CI), and not when a schedule due at once is
 * made and the loop kicked while an iteration runs. Each race is made deterministic by a
 * scheduler whose runOnce does the racing step right after its claim.
 */
import assert from "node:assert/strict";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ManualClock } from "../server/clock.ts";
import { createMemoryLogger } from "../server/log.ts";
import { selectNextDue } from "../server/schedules/schedule_queries.ts";
import { CLAIM_MS, Scheduler } from "../server/schedules/scheduler.ts";
import type { Schedules } from "../server/schedules/schedules.ts";
import { TypeDefaultsCache } from "../server/tasks/type_defaults.ts";
import { firesOf, scheduleServer } from "./_support/schedules.ts";
import { eventually } from "./_support/until.ts";

/** A scheduler over the server's engine whose first runOnce calls `afterClaim` once it has claimed. */
function racingScheduler(schedules: Schedules, clock: ManualClock, afterClaim: () => Promise<void>) {
  const rt = schedules.rt;
  const defaults = new TypeDefaultsCache((after, limit) => rt.typeDefaults(after, limit), clock);
  let raced = false;
  const claims: number[] = [];
  class Racing extends Scheduler {
    override async runOnce(): Promise<number> {
      claims.push(clock.now());
      const fired = await super.runOnce();
      if (!raced) {
        raced = true;
        await afterClaim();
      }
      return fired;
    }
  }
  return {
    scheduler: new Racing(schedules.sql, rt, defaults, clock, createMemoryLogger("error"), 250),
    claims,
  };
}

/** A server on a manual clock whose own scheduler loop is stopped: only the racing one fires. */
async function withServer(fn: (s: Awaited<ReturnType<typeof scheduleServer>>) => Promise<void>) {
  const s = await scheduleServer();
  try {
    await s.schedules.stop();
    await fn(s);
  } finally {
    await s.close();
  }
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "scheduler: the clock jumping to a tick between a claim and the next-due look",
  options,
  () =>
    withServer(async ({ clock, server, schedules }) => {
      // A daily challenge's schedule: the next 08:00 UTC is hours after the clock's noon.
      const made = await schedules.create({
        name: "daily",
        cron: "0 8 * * *",
        timeZone: "UTC",
        task: { queue: "jump", type: "tick" },
      });
      const tick = made.nextFireAt!;
      assert.ok(tick > clock.now(), "not due before the jump");
      const { scheduler, claims } = racingScheduler(schedules, clock, () => {
        clock.set(tick);
        return Promise.resolve();
      });
      scheduler.start();
      try {
        // Nothing else moves the clock: the loop must see the tick came due and claim again.
        const fires = await eventually(
          "the tick the clock jumped to fires",
          async () => {
            const f = await firesOf(server, made.id);
            return f.length > 0 ? f : undefined;
          },
          { timeoutMs: 15_000 },
        );
        assert.deepEqual(fires.map((f) => f.tickAt), [tick]);
        assert.ok(claims.length >= 2 && claims[0] < tick && claims[1] === tick, String(claims));
      } finally {
        await scheduler.stop();
      }
    }),
);

Deno.test(
  "scheduler: a kick while an iteration runs, for a schedule made due at once",
  options,
  () =>
    withServer(async ({ clock, server, schedules }) => {
      let id = "";
      const { scheduler } = racingScheduler(schedules, clock, async () => {
        // After the claim looked: made as CreateSchedule makes it, the loop kicked as it is.
        id = (await schedules.create({
          name: "now",
          onceTime: timestampFromMs(clock.now()),
          task: { queue: "kicked", type: "tick" },
        })).id;
        scheduler.kick();
      });
      scheduler.start();
      try {
        const fires = await eventually(
          "the schedule made during the iteration fires",
          async () => {
            if (!id) return undefined;
            const f = await firesOf(server, id);
            return f.length > 0 ? f : undefined;
          },
          { timeoutMs: 15_000 },
        );
        assert.deepEqual(fires.map((f) => f.tickAt), [clock.now()]);
      } finally {
        await scheduler.stop();
      }
    }),
);

Deno.test(
  "scheduler: a schedule held by a claim is next due when the claim ends, not at its past tick",
  options,
  () =>
    withServer(async ({ clock, schedules }) => {
      const { id } = await schedules.create({
        name: "held",
        onceTime: timestampFromMs(clock.now() + 1000),
        task: { queue: "held", type: "tick" },
      });
      assert.equal(await selectNextDue(schedules.sql), clock.now() + 1000);
      // An instance claimed its tick and died: the claim holds it until it passes.
      const claimedUntil = clock.now() + CLAIM_MS;
      await schedules.sql`update schedules set claimed_until = ${new Date(claimedUntil)} where id = ${id}`;
      clock.advance(2000);
      // Due at the claim's end: not now, which would have every other instance poll it meanwhile.
      assert.equal(await selectNextDue(schedules.sql), claimedUntil);
    }),
);
