/**
 * The Tasks view against a real server: the list, the `/` filter (queue, state, type,
 * words), the detail pane (payload pretty-printed, every attempt with its worker and
 * error, live progress), retry and cancel asking first.
 */
import assert from "node:assert/strict";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { KEYS, renderTui, startTuiHarness, until } from "./_support/tui_harness.ts";

const enc = new TextEncoder();
const noBackoff = { initialDelay: durationFromMs(0), maxDelay: durationFromMs(0), multiplier: 1 };

Deno.test("TUI tasks view", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, initialView: "tasks" }, { columns: 120, rows: 40 });
  try {
    const worker = await h.worker(["jobs"], { id: "worker-alpha", concurrency: 2 });
    const failing = (await h.tasks.enqueue({
      task: {
        queue: "jobs",
        type: "email.send",
        payload: enc.encode(JSON.stringify({ to: "ada@example.com", subject: "Welcome" })),
        maxAttempts: 2,
        backoff: noBackoff,
      },
    })).task!;

    await t.step("every attempt fails: the task ends dead, and the list follows live", async () => {
      await screen.waitFor(/email\.send\s+queued|email\.send\s+running/);
      for (let attempt = 1; attempt <= 2; attempt++) {
        const assign = await worker.nextOf("assign");
        assert.equal(assign.task?.id, failing.id);
        worker.send({
          case: "result",
          value: {
            taskId: failing.id,
            leaseId: assign.leaseId,
            outcome: {
              case: "error",
              value: { message: `mailbox unavailable (try ${attempt})`, code: "smtp_451", retryable: true },
            },
          },
        });
        await worker.nextOf("resultAck");
      }
      await screen.waitFor(/email\.send\s+dead\s+2/);
    });

    const running = (await h.tasks.enqueue({
      task: { queue: "jobs", type: "report.build", payload: enc.encode("plain text, not JSON") },
    })).task!;
    const idle = (await h.tasks.enqueue({ task: { queue: "other", type: "noop" } })).task!;
    const assign = await worker.nextOf("assign");
    assert.equal(assign.task?.id, running.id);

    await t.step("the list shows every task, newest first", async () => {
      const frame = await screen.waitFor(/Tasks 3/);
      const lines = frame.split("\n");
      const at = (id: string) => lines.findIndex((l) => l.startsWith(id.slice(0, 8)));
      assert.ok(at(idle.id) < at(running.id) && at(running.id) < at(failing.id), frame);
      await screen.waitFor(/report\.build\s+running/);
    });

    await t.step("/ filters by state, by words, by queue; esc clears", async () => {
      screen.press("/", ..."state:dead", KEYS.enter);
      let frame = await screen.waitFor("filter: state:dead");
      frame = await screen.waitFor((f) => /Tasks 1\b/.test(f) && f.includes("email.send"));
      assert.doesNotMatch(frame, /report\.build|noop/);
      screen.press("/", KEYS.ctrlU, ..."ada@example", KEYS.enter);
      frame = await screen.waitFor((f) => f.includes("filter: ada@example") && f.includes("Tasks 1 of 3"));
      assert.match(frame, /email\.send/);
      screen.press("/", KEYS.ctrlU, ..."queue:other", KEYS.enter);
      frame = await screen.waitFor((f) => f.includes("filter: queue:other") && /noop\s+queued/.test(f));
      assert.doesNotMatch(frame, /email\.send|report\.build/);
      screen.press("/", KEYS.ctrlU, ..."state:nonsense", KEYS.enter);
      await screen.waitFor("no state nonsense");
      screen.press(KEYS.esc);
      await screen.waitFor("filter: queue:other");
      screen.press(KEYS.esc);
      await screen.waitFor((f) => f.includes("Tasks 3") && f.includes("/ to filter"));
    });

    await t.step("the detail pane: payload pretty-printed, attempts with worker and error", async () => {
      // Newest first: noop, report.build, email.send.
      screen.press("j", "j", KEYS.enter);
      const frame = await screen.waitFor("Attempts");
      await screen.waitFor(/"to": "ada@example\.com"/);
      const detail = await screen.waitFor(/2\s+worker-alpha\s+failed/);
      assert.match(detail, /Task [0-9a-f-]{36} DEAD/);
      assert.match(detail, /1\s+worker-alpha\s+failed .*\[smtp_451\] mailbox unavailable \(try 1\)/);
      assert.match(detail, /2\s+worker-alpha\s+failed .*\[smtp_451\] mailbox unavailable \(try 2\)/);
      assert.match(detail, /"subject": "Welcome"/);
      assert.match(detail, /Last error: \[smtp_451\] mailbox unavailable \(try 2\) \(retryable\)/);
      assert.ok(frame.includes(failing.id));
    });

    await t.step("retry asks first, then queues the task again", async () => {
      screen.press("r");
      await screen.waitFor(`Retry task ${failing.id.slice(0, 8)} (email.send)? y/n`);
      screen.press("y");
      await screen.waitFor(`task ${failing.id.slice(0, 8)} queued again`);
      const again = await worker.nextOf("assign");
      assert.equal(again.task?.id, failing.id);
      await screen.waitFor(/Task [0-9a-f-]{36} RUNNING/);
      worker.send({
        case: "result",
        value: {
          taskId: failing.id,
          leaseId: again.leaseId,
          outcome: { case: "output", value: new Uint8Array() },
        },
      });
      await worker.nextOf("resultAck");
      await screen.waitFor(/Task [0-9a-f-]{36} SUCCEEDED/);
      await screen.waitFor(/3\s+worker-alpha\s+succeeded/);
      screen.press(KEYS.esc);
      await screen.waitFor("/ to filter");
    });

    await t.step("a running task's progress bar moves live", async () => {
      screen.press("k", KEYS.enter);
      await screen.waitFor(/Task [0-9a-f-]{36} RUNNING/);
      await screen.waitFor("plain text, not JSON");
      worker.send({
        case: "progress",
        value: { taskId: running.id, leaseId: assign.leaseId, percent: 40, message: "rendering page 2" },
      });
      await screen.waitFor(/Progress █{12}░{18} 40% rendering page 2/);
      worker.send({
        case: "progress",
        value: { taskId: running.id, leaseId: assign.leaseId, percent: 80, message: "rendering page 4" },
      });
      await screen.waitFor(/Progress █{24}░{6} 80% rendering page 4/);
      screen.press(KEYS.esc);
      await screen.waitFor(/report\.build\s+running\s+1\s+\S+\s+80%/);
    });

    await t.step("cancel asks first; n keeps the task, y cancels it", async () => {
      screen.press("k");
      screen.press("c");
      await screen.waitFor(`Cancel task ${idle.id.slice(0, 8)} (noop)? y/n`);
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
      assert.equal((await h.tasks.getTask({ id: idle.id })).task?.state, TaskState.QUEUED);
      screen.press("c");
      await screen.waitFor(`Cancel task ${idle.id.slice(0, 8)} (noop)? y/n`);
      screen.press("y");
      await screen.waitFor(`task ${idle.id.slice(0, 8)} cancelled`);
      await screen.waitFor(/noop\s+cancelled/);
      await until(
        "cancelled on the server",
        async () => (await h.tasks.getTask({ id: idle.id })).task?.state === TaskState.CANCELLED || undefined,
      );
    });

    await t.step("a finished task cannot be cancelled: the TUI says why instead of asking", async () => {
      screen.press("G");
      screen.press("c");
      await screen.waitFor("it can no longer be cancelled");
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});
