/**
 * A handler's error is kept with its attempt and its task, message and stack trace each
 * cut at its bound with a marker: GetTask returns them, Postgres holds no more, and the
 * TUI's task detail shows the stack; a task's output shows there too once it succeeded.
 */
import assert from "node:assert/strict";
import { TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { MAX_ERROR_MESSAGE, MAX_ERROR_STACK, TRUNCATED } from "../server/tasks/error_bounds.ts";
import { KEYS, renderTui, startTuiHarness } from "./_support/tui_harness.ts";

const enc = new TextEncoder();

Deno.test(
  "errors and outputs are kept and shown",
  { sanitizeOps: false, sanitizeResources: false },
  async (t) => {
    const h = await startTuiHarness();
    const session = await h.session("operator");
    try {
      const worker = await h.worker(["jobs"], { id: "worker-err", concurrency: 1 });
      const failing =
        (await h.tasks.enqueue({ task: { queue: "jobs", type: "report.build", maxAttempts: 1 } })).task!;
      const frames = Array.from(
        { length: 2000 },
        (_, i) => `    at step${i} (file:///app/report.ts:${i + 1}:7)`,
      );
      // Colour codes, as a handler's logger may leave them: replaced, not refused (the stream lives on).
      const stack = ["Error: report failed \x1b[31mred\x1b[0m", ...frames].join("\n");
      const message = `report failed ${"x".repeat(10_000)}`;
      let assign = await worker.nextOf("assign");
      worker.send({
        case: "result",
        value: {
          taskId: failing.id,
          leaseId: assign.leaseId,
          outcome: { case: "error", value: { message, code: "render", retryable: false, stack } },
        },
      });
      await worker.nextOf("resultAck");

      await t.step("GetTask shows message and stack, each truncated at its bound", async () => {
        const task = (await h.tasks.getTask({ id: failing.id })).task!;
        assert.equal(task.state, TaskState.DEAD);
        for (const error of [task.lastError!, task.attempts[0].error!]) {
          assert.equal(error.message.length, MAX_ERROR_MESSAGE);
          assert.ok(error.message.endsWith(TRUNCATED));
          assert.equal(error.message.slice(0, 100), message.slice(0, 100));
          assert.equal(error.stack.length, MAX_ERROR_STACK);
          assert.ok(error.stack.startsWith("Error: report failed \uFFFD[31mred\uFFFD[0m\n    at step0 "));
          assert.ok(error.stack.endsWith(TRUNCATED));
          const kept = MAX_ERROR_STACK - TRUNCATED.length;
          assert.equal(error.stack.slice(100, kept), stack.slice(100, kept));
        }
        const [row] = await h.server.db.sql<{ stack: number; message: number }[]>`
        select length(last_error->>'stack') as stack, length(last_error->>'message') as message
        from tasks where id = ${failing.id}`;
        assert.deepEqual(row, { stack: MAX_ERROR_STACK, message: MAX_ERROR_MESSAGE });
      });

      const succeeding = (await h.tasks.enqueue({ task: { queue: "jobs", type: "report.sum" } })).task!;
      assign = await worker.nextOf("assign");
      worker.send({
        case: "result",
        value: {
          taskId: succeeding.id,
          leaseId: assign.leaseId,
          outcome: { case: "output", value: enc.encode(JSON.stringify({ total: 42, rows: 7 })) },
        },
      });
      await worker.nextOf("resultAck");

      const screen = renderTui({ url: h.url, session, initialView: "tasks" }, { columns: 120, rows: 40 });
      try {
        await t.step("the TUI's detail shows the output of a task that succeeded", async () => {
          await screen.waitFor(/report\.sum\s+succeeded/);
          screen.press(KEYS.enter);
          const detail = await screen.waitFor(/"total": 42/);
          assert.match(detail, /Task [0-9a-f-]{36} SUCCEEDED/);
          assert.match(detail, /Output\n\s*\{\n\s*"total": 42,\n\s*"rows": 7/);
          screen.press(KEYS.esc);
        });

        await t.step("and the stack trace of the last error, cut to its rows", async () => {
          await screen.waitForGone("Output");
          screen.press("j", KEYS.enter);
          const detail = await screen.waitFor(/1\s+worker-err\s+failed .*\[render\] report failed/);
          assert.match(detail, /Task [0-9a-f-]{36} DEAD/);
          assert.match(detail, /Last error: \[render\] report failed x+/);
          assert.match(detail, /Stack\n\s+at step0 .*\n\s+at step1 /);
          assert.match(detail, /at step7 \(/);
          assert.doesNotMatch(detail, /at step8 \(/);
          assert.match(detail, /… \d+ more lines/);
        });
      } finally {
        screen.unmount();
      }

      await t.step(
        "on an 80×24 terminal the stack gets a share of the rows, and the frame still fits",
        async () => {
          const small = renderTui({ url: h.url, session, initialView: "tasks" }, { columns: 80, rows: 24 });
          try {
            await small.waitFor(/report\.build\s+dead/);
            small.press("j", KEYS.enter);
            const detail = await small.waitFor(/1\s+worker-err\s+failed/);
            const lines = detail.split("\n");
            assert.ok(lines.length <= 24, `${lines.length} lines:\n${detail}`);
            assert.deepEqual(lines.filter((l) => [...l].length > 80), []);
            assert.match(lines[0], /^taskmesh /);
            assert.match(detail, /Stack\n\s+at step0 .*\n\s+at step1 .*\n… \d+ more lines/);
          } finally {
            small.unmount();
          }
        },
      );
    } finally {
      await h.close();
    }
  },
);
