/**
 * Time zones across DST (docs/SCHEDULES.md): a fixed-time job whose time does not exist
 * on a spring-forward day runs once, at the first valid time after the gap; one whose
 * time occurs twice on a fall-back day runs once, at the first occurrence; a job that
 * runs every hour runs on every real hour (25 on a fall-back day). Through the real
 * scheduler on a manual clock, Europe/Berlin and America/New_York, 2026.
 */
import assert from "node:assert/strict";
import { CatchUpPolicy, OverlapPolicy } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { firesOf, scheduleServer } from "./_support/schedules.ts";

const STEP_MS = 10 * 60_000;

const CASES = [
  {
    what: "Berlin spring forward: 02:30 does not exist, runs once at 03:00 CEST",
    cron: "30 2 * * *",
    zone: "Europe/Berlin",
    from: "2026-03-28T12:00:00Z",
    to: "2026-03-29T23:00:00Z",
    fires: ["2026-03-29T01:00:00.000Z"],
  },
  {
    what: "Berlin fall back: 02:30 occurs twice, runs once at the first (CEST)",
    cron: "30 2 * * *",
    zone: "Europe/Berlin",
    from: "2026-10-24T12:00:00Z",
    to: "2026-10-25T22:00:00Z",
    fires: ["2026-10-25T00:30:00.000Z"],
  },
  {
    what: "New York spring forward: 02:30 does not exist, runs once at 03:00 EDT",
    cron: "30 2 * * *",
    zone: "America/New_York",
    from: "2026-03-07T18:00:00Z",
    to: "2026-03-09T04:00:00Z",
    fires: ["2026-03-08T07:00:00.000Z"],
  },
  {
    what: "New York fall back: 01:30 occurs twice, runs once at the first (EDT)",
    cron: "30 1 * * *",
    zone: "America/New_York",
    from: "2026-10-31T18:00:00Z",
    to: "2026-11-02T04:00:00Z",
    fires: ["2026-11-01T05:30:00.000Z"],
  },
];

Deno.test("schedules across DST", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const s = await scheduleServer();
  const { schedules, clock, server } = s;
  await schedules.stop();
  const walk = async (from: string, to: string) => {
    clock.set(Date.parse(from));
    while (clock.now() < Date.parse(to)) {
      clock.advance(STEP_MS);
      await schedules.scheduler.runOnce();
    }
  };
  // The walk steps 10 minutes at a time: ONCE fires a tick the step stepped over.
  const base = { overlap: OverlapPolicy.ALLOW, catchUp: CatchUpPolicy.ONCE, task: { type: "dst" } };
  try {
    for (const c of CASES) {
      await t.step(c.what, async () => {
        clock.set(Date.parse(c.from));
        const made = await schedules.create({ ...base, name: c.what, cron: c.cron, timeZone: c.zone });
        await walk(c.from, c.to);
        assert.deepEqual(
          (await firesOf(server, made.id)).map((f) => new Date(f.tickAt).toISOString()),
          c.fires,
        );
        await schedules.delete(made.id);
      });
    }
    await t.step("an hourly job in Berlin runs on each of the 25 hours of the fall-back day", async () => {
      clock.set(Date.parse("2026-10-24T21:55:00Z"));
      const made = await schedules.create({
        ...base,
        catchUp: CatchUpPolicy.ALL,
        name: "hourly",
        cron: "0 * * * *",
        timeZone: "Europe/Berlin",
      });
      // The local day: 00:00 CEST (22:00Z) to 24:00 CET (23:00Z the next day).
      await walk("2026-10-24T21:55:00Z", "2026-10-25T22:50:00Z");
      const fires = await firesOf(server, made.id);
      const hours = fires.map((f) => (f.tickAt - Date.parse("2026-10-24T22:00:00Z")) / 3600_000);
      assert.deepEqual(hours, Array.from({ length: 25 }, (_, i) => i), "every real hour once");
    });
  } finally {
    await s.close();
  }
});
