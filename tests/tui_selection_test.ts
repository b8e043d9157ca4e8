/**
 * The selection follows its item, not a screen row: tasks arriving above the selected
 * one (the list is newest first) leave the same task selected, so `c` cancels the task
 * the operator chose and nothing else.
 */
import assert from "node:assert/strict";
import { TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { KEYS, renderTui, startTuiHarness, until } from "./_support/tui_harness.ts";

Deno.test("TUI tasks: the cursor stays on its task while new tasks arrive above it", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const h = await startTuiHarness();
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, initialView: "tasks" }, { columns: 120, rows: 40 });
  const enqueue = async (type: string) => (await h.tasks.enqueue({ task: { queue: "jobs", type } })).task!;
  try {
    const first = await enqueue("first.job");
    const chosen = await enqueue("chosen.job");
    const third = await enqueue("third.job");
    await screen.waitFor((f) => f.includes("Tasks 3") && f.includes("third.job"));
    // Newest first: third, chosen, first. The top row, then one down, is the chosen task.
    screen.press("g", "j", KEYS.enter);
    // The detail pane names the selected task: the selection is made before anything arrives.
    await screen.waitFor(`Task ${chosen.id}`);
    screen.press(KEYS.esc);
    await screen.waitFor("/ to filter");
    const arrivals = [];
    for (let i = 0; i < 3; i++) arrivals.push(await enqueue(`arrival.${i}`));
    await screen.waitFor((f) => f.includes("Tasks 6") && f.includes("arrival.2"));
    screen.press("c");
    await screen.waitFor(`Cancel task ${chosen.id.slice(0, 8)} (chosen.job)? y/n`);
    screen.press("y");
    await screen.waitFor(`task ${chosen.id.slice(0, 8)} cancelled`);
    await until(
      "cancelled on the server",
      async () => (await h.tasks.getTask({ id: chosen.id })).task?.state === TaskState.CANCELLED || undefined,
    );
    for (const other of [first, third, ...arrivals]) {
      assert.equal(
        (await h.tasks.getTask({ id: other.id })).task?.state,
        TaskState.QUEUED,
        other.spec?.type ?? "",
      );
    }
  } finally {
    screen.unmount();
    await h.close();
  }
});
