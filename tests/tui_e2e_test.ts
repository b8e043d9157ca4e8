/**
 * The real `tui/main.ts` in a pseudo-terminal (tmux), against a running server with a
 * connected worker: sign in with a masked password; a suggestion made through the API
 * appears live and vanishes when approved; pausing a queue through the TUI's key and
 * confirmation stops its tasks from being assigned while a worker is connected, and
 * resuming lets them run; a resize re-lays the screen; q quits with status 0.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { bearer } from "./_support/raw_worker.ts";
import { startTuiHarness, until } from "./_support/tui_harness.ts";
import { openTmux } from "./_support/tui_tmux.ts";

const MAIN = new URL("../tui/main.ts", import.meta.url).pathname;

Deno.test("TUI end to end in a terminal", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  // The production shape: real Postgres and real Redis behind the server.
  const h = await startTuiHarness({ redis: true });
  const admin = await h.user("admin");
  const member = await h.user("member");
  const memberTags = createClient(TagService, h.server.grpc());
  const worker = await h.worker(["e2e", "e2e-probe"], { id: "e2e-worker", concurrency: 4 });
  const done = async (taskId: string, leaseId: string) => {
    worker.send({
      case: "result",
      value: { taskId, leaseId, outcome: { case: "output", value: new Uint8Array() } },
    });
    await worker.nextOf("resultAck");
  };
  const term = await openTmux([
    // As CI runs it, and as a CI job's debug shell would: Ink must still draw every frame.
    "env",
    "CI=true",
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    `--url=${h.url}`,
    `--email=${admin.email}`,
  ]);
  try {
    await t.step("sign in with a masked password", async () => {
      await term.waitFor("taskmesh — sign in");
      await term.waitFor(admin.email);
      await term.type(admin.password);
      const screen = await term.waitFor("•".repeat(admin.password.length));
      assert.ok(!screen.includes(admin.password));
      await term.keys("Enter");
      await term.waitFor("Workers connected: 1");
      await term.waitFor("● connected");
    });

    await t.step("a suggestion made through the API appears live and vanishes when approved", async () => {
      await term.keys("6");
      await term.waitFor("no pending suggestions");
      await memberTags.suggestTag(
        { name: "Elixir", type: TagType.LANGUAGE, reason: "functional, on the BEAM" },
        bearer(member.token),
      );
      await term.waitFor(/Elixir\s+language .*functional, on the BEAM/);
      await term.keys("a");
      await term.waitFor("Approve suggestion “Elixir”");
      await term.keys("Enter");
      await term.waitFor("approved: tag Elixir created");
      const screen = await term.waitFor("no pending suggestions");
      assert.doesNotMatch(screen, /Elixir\s+language/);
      const { tag } = await h.tags.getTag({ key: { case: "name", value: "Elixir" } });
      assert.equal(tag?.type, TagType.LANGUAGE);
    });

    let held = { id: "" };
    await t.step("pausing a queue with p and y stops its tasks from being assigned", async () => {
      // The queue exists once a task went through it.
      const first = (await h.tasks.enqueue({ task: { queue: "e2e", type: "e2e.first" } })).task!;
      const assign = await worker.nextOf("assign");
      assert.equal(assign.task?.id, first.id);
      await done(first.id, assign.leaseId);
      await term.keys("2");
      await term.waitFor(/e2e\s+0\s+0\s+0\s+0\s+0/);
      await term.keys("p");
      await term.waitFor("Pause queue e2e? Workers get none of its tasks until it is resumed. y/n");
      await term.keys("y");
      await term.waitFor("queue e2e paused");
      await term.waitFor(/e2e ⏸/);

      held = (await h.tasks.enqueue({ task: { queue: "e2e", type: "e2e.held" } })).task!;
      const probe = (await h.tasks.enqueue({ task: { queue: "e2e-probe", type: "e2e.probe" } })).task!;
      // The worker is connected with free slots and is handed the probe enqueued after the
      // held task: the paused queue's task was passed over, not merely not reached yet.
      const next = await worker.nextOf("assign");
      assert.equal(next.task?.id, probe.id);
      await done(probe.id, next.leaseId);
      assert.equal((await h.tasks.getTask({ id: held.id })).task?.state, TaskState.QUEUED);
      const { workers } = await h.workers.listWorkers({});
      assert.deepEqual(workers.map((w) => w.id), ["e2e-worker"]);
      await term.waitFor(/e2e ⏸\s+0\s+0\s+1\s+0/);
    });

    await t.step("resuming with r and y lets it run", async () => {
      await term.keys("r");
      await term.waitFor("Resume queue e2e? y/n");
      await term.keys("y");
      await term.waitFor("queue e2e resumed");
      const resumed = await worker.nextOf("assign");
      assert.equal(resumed.task?.id, held.id);
      await done(held.id, resumed.leaseId);
      await until(
        "the held task ran",
        async () => (await h.tasks.getTask({ id: held.id })).task?.state === TaskState.SUCCEEDED || undefined,
      );
      await term.waitFor(/e2e\s+0\s+0\s+0\s+0\s+0/);
    });

    await t.step("a terminal resize re-lays the screen", async () => {
      await term.resize(100, 24);
      // The header on the first row and the status line at the bottom of 24 rows hold only
      // once the frame was re-laid to the new height (at 48 rows the status line is lower).
      const rowsOf = (s: string) => s.replace(/\n$/, "").split("\n");
      const statusRow = (rows: string[]) => rows.findIndex((row) => row.includes("● connected"));
      const screen = await term.waitFor((s) => {
        const rows = rowsOf(s);
        return rows.length === 24 && rows[0].startsWith("taskmesh") && statusRow(rows) >= rows.length - 3;
      });
      const rows = rowsOf(screen);
      assert.equal(rows.length, 24, screen);
      assert.match(rows[0], /^taskmesh/, screen);
      assert.ok(
        statusRow(rows) >= rows.length - 3,
        `the status line is not in the last three rows:\n${screen}`,
      );
      assert.ok(rows.every((row) => row.length <= 100), screen);
    });

    await t.step("q quits with status 0", async () => {
      await term.keys("q");
      await term.waitFor("[tui exited with status 0]");
    });
  } finally {
    await term.close();
    await h.close();
  }
});
