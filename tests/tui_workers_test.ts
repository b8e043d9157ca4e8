/**
 * The Workers view against a real server: workers arrive and leave live (WatchWorkers)
 * with their queues, active tasks, load and version; drain asks first and the worker
 * is told over its stream; the heartbeat age follows the server's last heartbeat.
 */
import assert from "node:assert/strict";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { renderTui, startTuiHarness, until } from "./_support/tui_harness.ts";

Deno.test("TUI workers view", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, initialView: "workers" }, { columns: 140, rows: 30 });
  try {
    await t.step("no worker yet", async () => {
      await screen.waitFor("no worker is connected");
    });

    const busy = await h.worker(["emails", "default"], {
      id: "worker-busy",
      concurrency: 4,
      version: "ts/1.2.3",
    });
    const idle = await h.worker(["reports"], { id: "worker-idle", concurrency: 2, version: "py/0.9" });

    await t.step("workers appear live with queues, active tasks, load and version", async () => {
      await h.tasks.enqueue({ task: { queue: "emails", type: "email.send" } });
      const assign = await busy.nextOf("assign");
      busy.send({
        case: "heartbeat",
        value: { leases: [{ taskId: assign.task!.id, leaseId: assign.leaseId }], load: 0.25 },
      });
      const frame = await screen.waitFor(/worker-busy\s+active\s+emails,default\s+1\/4\s+██░░░░░░\s+25%/);
      assert.match(frame, /worker-busy .* ts\/1\.2\.3/);
      assert.match(frame, /worker-idle\s+active\s+reports\s+0\/2 .* py\/0\.9/);
      assert.match(frame, /Workers 2 connected/);
    });

    await t.step("drain asks first; y drains the worker, which is told over its stream", async () => {
      screen.press("j", "d");
      await screen.waitFor(/Drain worker worker-idle\? It finishes its 0 tasks/);
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
      screen.press("d");
      await screen.waitFor("Drain worker worker-idle?");
      screen.press("y");
      await screen.waitFor("worker worker-idle draining");
      await idle.nextOf("drain");
      // Holding nothing, it closes at once, as a worker does, and leaves the list.
      idle.end();
      await screen.waitFor((f) => !/worker-idle\s+(active|draining)\s+reports/.test(f));
      assert.match(screen.lastFrame(), /Workers 1 connected/);
    });

    await t.step("a worker that drops off leaves the list", async () => {
      busy.kill();
      await screen.waitFor("no worker is connected");
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});

/** worker-beat's row: state, the load it reported (HB LOAD), heartbeat age (BEAT) in seconds. */
const BEAT_ROW =
  /worker-beat\s+(active|silent)\s+beats\s+0\/2\s+░+\s+0%\s+(\d+)%\s+(\d+)s\s+\S+\s+raw-test\/1\.0/;

function beatRow(frame: string): { state: string; load: number; beatS: number } | undefined {
  const m = BEAT_ROW.exec(frame);
  return m ? { state: m[1], load: Number(m[2]), beatS: Number(m[3]) } : undefined;
}

// The age is read from the wall clock (the view's useNow and the workers store take
// Date.now, not the injectable Clock), so it is checked against the last heartbeat the
// server reports, and the wait is for the figure on screen to change.
Deno.test("TUI workers view: heartbeat age", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  // Beats every second, so a worker is silent after a lease TTL of 2 s without one.
  const h = await startTuiHarness({ env: { TASKMESH_WORKER_HEARTBEAT_MS: "1000" } });
  const session = await h.session("viewer");
  const screen = renderTui({ url: h.url, session, initialView: "workers" }, { columns: 140, rows: 30 });
  const lastBeat = async () => {
    const { workers } = await h.workers.listWorkers({});
    return timestampMs(workers.find((w) => w.id === "worker-beat")!.lastHeartbeatTime!);
  };
  try {
    assert.match(await screen.waitFor("no worker is connected"), /BEAT/);
    const w = await h.worker(["beats"], { id: "worker-beat", concurrency: 2 });
    const connected = await lastBeat();

    await t.step("an active worker's BEAT is the age of its last heartbeat", async () => {
      w.send({ case: "heartbeat", value: { leases: [], load: 0.5 } });
      const beat = await until("the heartbeat counted", async () => {
        const at = await lastBeat();
        return at > connected ? at : undefined;
      });
      const frame = await screen.waitFor((f) => beatRow(f)?.state === "active" && beatRow(f)?.load === 50);
      const shown = beatRow(frame)!.beatS * 1000;
      // Shown as of the snapshot that carried it: never older than the beat is now, and the
      // snapshot followed the beat within an interval.
      assert.ok(shown <= Date.now() - beat, `BEAT ${shown} ms, the beat was ${Date.now() - beat} ms ago`);
      assert.ok(shown <= 1000, frame);
    });

    await t.step("when the beats stop the worker goes silent and BEAT keeps counting", async () => {
      const beat = await lastBeat();
      // Shown from a "now" re-read every second, floored to seconds: at most 2 s behind.
      const plausible = (frame: string) => {
        const shown = beatRow(frame)!.beatS * 1000;
        const real = Date.now() - beat;
        assert.ok(
          shown <= real && shown >= real - 3000,
          `BEAT ${shown} ms, the beat was ${real} ms ago:\n${frame}`,
        );
        return shown;
      };
      let frame = await screen.waitFor((f) => beatRow(f)?.state === "silent" && beatRow(f)!.beatS >= 3);
      const first = plausible(frame);
      frame = await screen.waitFor((f) => (beatRow(f)?.beatS ?? 0) * 1000 > first);
      assert.equal(beatRow(frame)?.state, "silent", frame);
      assert.ok(plausible(frame) > first);
    });

    await t.step("a heartbeat makes it active again with a fresh age", async () => {
      w.send({ case: "heartbeat", value: { leases: [], load: 0.25 } });
      const frame = await screen.waitFor((f) => beatRow(f)?.state === "active" && beatRow(f)?.load === 25);
      assert.ok(beatRow(frame)!.beatS <= 1, frame);
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});

// ACTIVE is the leases the server holds now; the load a worker reports rides on its
// heartbeats and lags them. The bar must say what ACTIVE says.
Deno.test("TUI workers view: BUSY agrees with ACTIVE between heartbeats", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const h = await startTuiHarness();
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, initialView: "workers" }, { columns: 140, rows: 30 });
  try {
    const w = await h.worker(["jobs"], { id: "worker-lag", concurrency: 4 });
    // It last said it was idle; then it was given two tasks.
    w.send({ case: "heartbeat", value: { leases: [], load: 0 } });
    await h.tasks.enqueueBatch({ tasks: [{ queue: "jobs", type: "a" }, { queue: "jobs", type: "b" }] });
    await w.nextOf("assign");
    await w.nextOf("assign");
    const frame = await screen.waitFor(/worker-lag\s+active\s+jobs\s+2\/4\s/);
    assert.match(frame, /worker-lag\s+active\s+jobs\s+2\/4\s+████░░░░\s+50%\s+0%\s/, frame);
    assert.match(frame, /ACTIVE BUSY\s+HB LOAD/);
  } finally {
    screen.unmount();
    await h.close();
  }
});
