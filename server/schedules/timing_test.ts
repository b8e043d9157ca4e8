import assert from "node:assert/strict";
import { describeTiming } from "./describe.ts";
import { dueTicks, planOverlap } from "./plan.ts";
import { jitterOf, latestTicks, nextFireAt, preview } from "./timing.ts";

const T = Date.UTC(2026, 0, 1, 12);

Deno.test("interval ticks align to their anchor, cron ticks to the zone's wall clock", () => {
  const every30s = { kind: "interval" as const, intervalMs: 30_000, anchorAt: 0 };
  assert.equal(nextFireAt({ timing: every30s, startAt: null, endAt: null }, T + 1), T + 30_000);
  assert.deepEqual(latestTicks(every30s, T, T + 95_000, 2), [T + 60_000, T + 90_000]);
  const anchored = { kind: "interval" as const, intervalMs: 60_000, anchorAt: T + 7000 };
  assert.equal(nextFireAt({ timing: anchored, startAt: null, endAt: null }, T), T + 7000);
  const berlin = { kind: "cron" as const, cron: "0 8 * * *", timeZone: "Europe/Berlin" };
  assert.deepEqual(preview({ timing: berlin, startAt: null, endAt: T + 86_400_000 }, T, 5), [
    Date.UTC(2026, 0, 2, 7),
  ]);
  assert.equal(nextFireAt({ timing: { kind: "once", at: T }, startAt: null, endAt: null }, T + 1), null);
});

Deno.test("jitter is the same for a tick everywhere and below its bound", () => {
  assert.equal(jitterOf("a", T, 0), 0);
  const j = jitterOf("a", T, 10_000);
  assert.equal(jitterOf("a", T, 10_000), j);
  assert.ok(j >= 0 && j < 10_000);
});

Deno.test("catch-up: which missed ticks fire", () => {
  const base = {
    timing: { kind: "interval" as const, intervalMs: 60_000, anchorAt: 0 },
    startAt: null,
    endAt: null,
    catchUpWindowMs: 180_000,
    catchUpLimit: 2,
  };
  const now = T + 600_000 + 1000;
  assert.deepEqual(dueTicks({ ...base, catchUp: "skip" }, T, now).ticks, [T + 600_000]);
  assert.deepEqual(dueTicks({ ...base, catchUp: "latest" }, T, now).ticks, [T + 600_000]);
  assert.deepEqual(dueTicks({ ...base, catchUp: "all" }, T, now).ticks, [T + 540_000, T + 600_000]);
  assert.equal(dueTicks({ ...base, catchUp: "all" }, T, now, true).ticks.length, 11, "taken over: all");
  assert.equal(dueTicks({ ...base, catchUp: "skip" }, T, now).next, T + 660_000);
});

Deno.test("overlap: a live previous task decides each tick", () => {
  const live = { kind: "task" as const, id: "t1", state: "running" };
  assert.deepEqual(planOverlap("skip", [T], live).map((p) => p.action), ["skip"]);
  assert.deepEqual(planOverlap("allow", [T, T + 1], live).map((p) => p.action), ["enqueue", "enqueue"]);
  assert.deepEqual(planOverlap("buffer_one", [T, T + 1], live).map((p) => p.action), ["buffer", "skip"]);
  const cancel = planOverlap("cancel_previous", [T, T + 1], live);
  assert.deepEqual(cancel.map((p) => p.action), ["skip", "enqueue"]);
  assert.equal(cancel[1].cancel, "t1", "the superseded tick's cancel moves to the one that fires");
  const ended = { kind: "task" as const, id: "t1", state: "succeeded" };
  assert.deepEqual(planOverlap("skip", [T], ended).map((p) => p.action), ["enqueue"]);
});

Deno.test("timings in words", () => {
  const cron = (c: string, z = "UTC") => describeTiming({ kind: "cron", cron: c, timeZone: z });
  assert.equal(cron("0 8 * * *", "Europe/Berlin"), "every day at 08:00 Europe/Berlin");
  assert.equal(cron("0 2 * * 1"), "every Monday at 02:00 UTC");
  assert.equal(cron("*/5 * * * *"), "every 5 minutes");
  assert.equal(cron("* * * * *"), "every minute");
  assert.equal(cron("*/10 * * * * *"), "every 10 seconds");
  assert.equal(cron("15 * * * *"), "every hour at :15");
  assert.equal(cron("0 9 1 * *"), "on day 1 of every month at 09:00 UTC");
  assert.equal(cron("0 9 * * 1-5"), "every weekday at 09:00 UTC");
  assert.equal(cron("0 9,17 * * *"), 'cron "0 9,17 * * *" UTC');
  assert.equal(describeTiming({ kind: "interval", intervalMs: 30_000, anchorAt: 0 }), "every 30s");
  assert.equal(describeTiming({ kind: "once", at: T }), "once at 2026-01-01T12:00:00.000Z");
});
