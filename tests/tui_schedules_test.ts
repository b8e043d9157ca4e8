/**
 * The Schedules view against a real server: each schedule in words with its next fire
 * counting down as the TUI's clock moves, its last fire and result, its policies; the
 * recent fires of the selected one; trigger now, pause and resume, and delete, each
 * asking first; a viewer sees no action keys.
 */
import assert from "node:assert/strict";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { CatchUpPolicy, OverlapPolicy } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../tui/data/clock.ts";
import { renderTui, startTuiHarness } from "./_support/tui_harness.ts";

Deno.test("TUI schedules view", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  // Far from any tick, so nothing fires but what the test triggers.
  await h.tasks.createSchedule({
    schedule: {
      name: "daily-report",
      cron: "0 8 * * *",
      timeZone: "Europe/Berlin",
      overlap: OverlapPolicy.ALLOW,
      catchUp: CatchUpPolicy.ONCE,
      task: { queue: "reports", type: "report.build" },
    },
  });
  const { schedule: hourly } = await h.tasks.createSchedule({
    schedule: { name: "hourly-sweep", interval: durationFromMs(3600_000), task: { type: "sweep" } },
  });
  const clock = new ManualClock(Date.now());
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, clock, initialView: "schedules" }, {
    columns: 140,
    rows: 30,
  });
  const next = (frame: string, name: string) => {
    const m = new RegExp(`${name}\\s.*?\\s(in \\S+|due|paused)\\s`).exec(frame);
    return m?.[1];
  };
  try {
    await t.step("each schedule in words, its next fire, last fire and policies", async () => {
      const frame = await screen.waitFor(
        /daily-report\s+every day at 08:00 Europe\/Berlin\s+in \S+\s+never\s+allow · latest/,
      );
      assert.match(frame, /hourly-sweep\s+every 1h\s+in \S+\s+never\s+skip · skip/);
      assert.match(frame, /Schedules 2 schedules/);
      assert.match(frame, /p pause the schedule · r resume the schedule · t trigger · d delete the schedule/);
    });

    await t.step("the countdown advances with the clock", async () => {
      const before = next(screen.lastFrame(), "hourly-sweep")!;
      assert.match(before, /^in \d+m\d\ds$/);
      // To 30 s before the tick: the figure on screen follows the TUI's clock.
      clock.advance(Math.max(0, timestampMs(hourly!.nextFireTime!) - clock.now() - 30_000));
      const frame = await screen.waitFor((f) => /^in \d\ds$/.test(next(f, "hourly-sweep") ?? ""));
      assert.notEqual(next(frame, "hourly-sweep"), before);
      clock.advance(60_000);
      await screen.waitFor((f) => next(f, "hourly-sweep") === "due");
    });

    await t.step("trigger asks first, fires now, and the fire shows with its task", async () => {
      screen.press("t");
      await screen.waitFor("Fire schedule daily-report now? Its overlap policy (allow) applies.");
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
      screen.press("t");
      await screen.waitFor("Fire schedule daily-report now?");
      screen.press("y");
      await screen.waitFor(/schedule daily-report fired now: enqueued \(task \w{8}\)/);
      const frame = await screen.waitFor(/trigger\s+enqueued → queued\s+task \w{8}/);
      assert.match(frame, /Recent fires of daily-report/);
      // "ago" by the TUI's clock, which the step before moved up to an hour ahead: "42m10s ago", or
      // "1h00m ago" when the test runs just after a full hour (the hourly schedule's tick was then ~1 h off).
      await screen.waitFor(/daily-report\s.*\s\d+[hms]\S* ago enqueued → queued/);
    });

    await t.step("pause with confirmation, then resume", async () => {
      screen.press("p");
      await screen.waitFor("Pause schedule daily-report? It fires nothing until resumed.");
      screen.press("y");
      await screen.waitFor((f) => next(f, "daily-report") === "paused");
      await screen.waitFor("paused: paused from the operator TUI");
      screen.press("r");
      await screen.waitFor("Resume schedule daily-report? Ticks it missed follow its catch-up policy.");
      screen.press("y");
      await screen.waitFor((f) => next(f, "daily-report")?.startsWith("in ") ?? false);
    });

    await t.step("delete asks first; the schedule leaves the list, its task stays", async () => {
      screen.press("d");
      await screen.waitFor("Delete schedule daily-report? Tasks it already fired stay.");
      screen.press("y");
      await screen.waitFor((f) => !f.includes("daily-report") || f.includes("deleted"));
      await screen.waitFor((f) => /Schedules 1 schedules/.test(f));
      const { tasks } = await h.tasks.listTasks({ queue: "reports" });
      assert.equal(tasks.length, 1);
    });
  } finally {
    screen.unmount();
    await h.close();
  }

  await t.step("a viewer sees the schedules but no action key", async () => {
    const v = await startTuiHarness();
    await v.tasks.createSchedule({ schedule: { name: "seen", cron: "0 8 * * *", task: { type: "x" } } });
    const viewer = renderTui({ url: v.url, session: await v.session("viewer"), initialView: "schedules" }, {
      columns: 120,
      rows: 24,
    });
    try {
      const frame = await viewer.waitFor(/seen\s+every day at 08:00 UTC/);
      assert.doesNotMatch(frame, /t trigger/);
      viewer.press("t");
      await viewer.waitFor(/seen\s+every day at 08:00 UTC/);
      assert.doesNotMatch(viewer.lastFrame(), /Fire schedule/);
    } finally {
      viewer.unmount();
      await v.close();
    }
  });
});
