/**
 * Overview and Queues against a real server: queue depths per state, workers
 * connected, the "work but no worker" warning appearing and clearing live, pause
 * and resume through the keys, each asking first, and the rates and the "dead letters
 * growing" warning once tasks succeed and fail through a worker.
 */
import assert from "node:assert/strict";
import { KEYS, renderTui, startTuiHarness, until } from "./_support/tui_harness.ts";

Deno.test("TUI overview and queues", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness({ redis: true });
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session });
  try {
    await t.step("an empty server shows no queues and warns that no worker is connected", async () => {
      await screen.waitFor("Workers connected: 0");
      await screen.waitFor("no queues yet");
      await screen.waitFor("no worker is connected");
      await screen.waitFor("● connected");
    });

    await t.step("enqueued tasks show as queue depth, with a warning: work but no worker", async () => {
      for (let i = 0; i < 3; i++) await h.tasks.enqueue({ task: { queue: "emails", type: "email.send" } });
      await h.tasks.enqueue({ task: { queue: "reports", type: "report.build" } });
      const frame = await screen.waitFor(/emails\s+0\s+0\s+3\s+0\s+0/);
      assert.match(frame, /reports\s+0\s+0\s+1\s+0/);
      await screen.waitFor("queue emails has work (3 tasks) but no worker");
    });

    await t.step("a worker connecting takes work and clears its queue's warning, live", async () => {
      const w = await h.worker(["emails"], { concurrency: 1 });
      const assign = await w.nextOf("assign");
      await screen.waitFor("Workers connected: 1");
      await screen.waitFor(/emails\s+0\s+0\s+2\s+1/);
      await screen.waitForGone("queue emails has work");
      assert.match(screen.lastFrame(), /queue reports has work \(1 tasks\) but no worker/);
      w.send({
        case: "result",
        value: {
          taskId: assign.task!.id,
          leaseId: assign.leaseId,
          outcome: { case: "output", value: new Uint8Array() },
        },
      });
      await w.nextOf("resultAck");
    });

    await t.step("pause asks first; n changes nothing", async () => {
      screen.press("2");
      await screen.waitFor(/QUEUE\s+WAIT/);
      // The queues are sorted by name: emails is first and selected.
      screen.press("p");
      await screen.waitFor("Pause queue emails? Workers get none of its tasks until it is resumed. y/n");
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
      const { queues } = await h.tasks.listQueues({});
      assert.equal(queues.find((q) => q.name === "emails")?.paused, false);
    });

    await t.step("p then y pauses the queue on the server, and the screen shows it", async () => {
      screen.press("p");
      await screen.waitFor("Pause queue emails?");
      screen.press("y");
      await screen.waitFor("queue emails paused");
      await until("emails paused", async () => {
        const { queues } = await h.tasks.listQueues({});
        return queues.find((q) => q.name === "emails")?.paused || undefined;
      });
      await screen.waitFor(/emails ⏸/);
      await screen.waitFor("PAUSED");
      screen.press("1");
      await screen.waitFor(/queue emails is paused with 1 queued/);
    });

    await t.step("r then y resumes it", async () => {
      screen.press("2");
      await screen.waitFor("PAUSED");
      screen.press("r");
      await screen.waitFor("Resume queue emails? y/n");
      screen.press("y");
      await screen.waitFor("queue emails resumed");
      await screen.waitForGone("PAUSED");
      const { queues } = await h.tasks.listQueues({});
      assert.equal(queues.find((q) => q.name === "emails")?.paused, false);
    });

    await t.step("enter on a queue opens its tasks", async () => {
      screen.press("j", KEYS.enter);
      await screen.waitFor("filter: queue:reports");
      await screen.waitFor("report.build");
      assert.doesNotMatch(screen.lastFrame(), /email\.send/);
    });
    await t.step("tasks finished through a worker show as rates; dead letters growing warns", async () => {
      screen.press("1");
      await screen.waitFor("Workers connected: 1");
      const w = await h.worker(["rates"], { id: "worker-rates", concurrency: 1 });
      const run = async (type: string, ok: boolean) => {
        const task = (await h.tasks.enqueue({ task: { queue: "rates", type, maxAttempts: 1 } })).task!;
        const assign = await w.nextOf("assign");
        assert.equal(assign.task?.id, task.id);
        w.send({
          case: "result",
          value: {
            taskId: task.id,
            leaseId: assign.leaseId,
            outcome: ok
              ? { case: "output", value: new Uint8Array() }
              : { case: "error", value: { message: "report failed", code: "boom", retryable: false } },
          },
        });
        await w.nextOf("resultAck");
      };
      // QUEUE WAIT SCHED QUEUED FLIGHT DEAD OK/S FAIL/S WKR. The rates are over the last 10 s on
      // the TUI's clock (here the wall clock): tests/tui_rates_test.ts checks their figures.
      const row = (frame: string) => {
        const m = /rates\s+0\s+0\s+0\s+0\s+(\d+)\s+(\S+)\s+(\S+)\s+1\s/.exec(frame);
        return m ? { dead: Number(m[1]), ok: Number(m[2]), fail: Number(m[3]) } : undefined;
      };

      await run("report.ok", true);
      await run("report.ok", true);
      const frame = await screen.waitFor((f) => (row(f)?.ok ?? 0) > 0);
      assert.equal(row(frame)?.fail, 0, frame);
      assert.doesNotMatch(frame, /dead letters growing/);

      await run("report.bad", false);
      await screen.waitFor((f) => row(f)?.dead === 1 && row(f)!.fail > 0);
      await screen.waitFor("✖ dead letters growing in rates (+1, now 1)");

      await run("report.bad", false);
      await screen.waitFor("✖ dead letters growing in rates (+2, now 2)");
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});
