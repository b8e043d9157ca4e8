/**
 * The Workers view against a real server: workers arrive and leave live (WatchWorkers)
 * with their queues, active tasks, load and version; drain asks first and the worker
 * is told over its stream.
 */
import assert from "node:assert/strict";
import { renderTui, startTuiHarness } from "./_support/tui_harness.ts";

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
