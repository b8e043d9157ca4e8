/**
 * OK/S and FAIL/S are the last 10 seconds on the TUI's clock, counted from the task
 * events, not the server's one-minute average (which showed 17.8/s during a 250/s
 * drain, and 0.7/s while paused); TREND puts every queue on one axis, so a quiet queue
 * shows a low bar next to a busy one instead of a full bar of its own.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../tui/data/clock.ts";
import type { RawWorker } from "./_support/raw_worker.ts";
import { renderTui, startTuiHarness } from "./_support/tui_harness.ts";

/** Takes `n` assignments and finishes each successfully. */
async function succeedEach(worker: RawWorker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const assign = await worker.nextOf("assign");
    worker.send({
      case: "result",
      value: {
        taskId: assign.task!.id,
        leaseId: assign.leaseId,
        outcome: { case: "output", value: new Uint8Array() },
      },
    });
    await worker.nextOf("resultAck");
  }
}

/** A queue's row: OK/S, FAIL/S and the trend (past OLDEST and, when the screen is wide enough, LIMIT). */
function row(frame: string, queue: string) {
  const m = new RegExp(
    `${queue}\\s+0\\s+0\\s+0\\s+0\\s+0\\s+(\\S+)\\s+(\\S+)\\s+1\\s+\\S+\\s+(?:\\S+\\s+)?([▁-█]+)`,
  ).exec(
    frame,
  );
  return m ? { ok: m[1], fail: m[2], trend: m[3] } : undefined;
}

Deno.test("TUI: OK/S is the last 10 s and TREND has one axis for every queue", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const h = await startTuiHarness();
  // On a whole second: counting starts in the bucket the finishes land in.
  const clock = new ManualClock(Math.ceil(Date.now() / 1000) * 1000);
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, clock }, { columns: 120, rows: 30 });
  try {
    await screen.waitFor((f) => f.includes("● connected") && f.includes("no queues yet"));
    const busy = await h.worker(["busy"], { concurrency: 1 });
    const quiet = await h.worker(["quiet"], { concurrency: 1 });
    await h.tasks.enqueueBatch({ tasks: Array.from({ length: 20 }, () => ({ queue: "busy", type: "b" })) });
    await h.tasks.enqueueBatch({ tasks: Array.from({ length: 2 }, () => ({ queue: "quiet", type: "q" })) });
    await Promise.all([succeedEach(busy, 20), succeedEach(quiet, 2)]);

    // Counted in the first second (the clock has not moved): all of them, once seen.
    await screen.waitFor((f) => row(f, "busy")?.ok === "20.0" && row(f, "quiet")?.ok === "2.0");
    // 20 and 2 finished in the first 5 s of counting.
    clock.advance(5000);
    let frame = await screen.waitFor((f) => row(f, "busy")?.ok === "4.0" && row(f, "quiet")?.ok === "0.4");
    assert.equal(row(frame, "busy")?.fail, "0", frame);
    assert.match(row(frame, "busy")!.trend, /█/, frame);
    // 2 of the 20 the busiest second saw: a low bar, not a full one.
    assert.match(row(frame, "quiet")!.trend, /▂/, frame);
    assert.doesNotMatch(row(frame, "quiet")!.trend, /[▃-█]/, frame);
    assert.match(frame, /TREND: succeeded\/s, last 20 s, █ = 20\.0\/s/);

    // Nothing finished in the last 10 s: the rates are 0, where a minute's average still says 0.4/s.
    clock.advance(5000);
    frame = await screen.waitFor((f) => row(f, "busy")?.ok === "0" && row(f, "quiet")?.ok === "0");
    assert.ok(frame);
  } finally {
    screen.unmount();
    await h.close();
  }
});
