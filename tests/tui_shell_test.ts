/**
 * The shell against a real server: signing in with a masked password, the k9s keys
 * (`?`, `:`, tab, numbers, esc, q), what a viewer and --read-only may see, a terminal
 * resize, and the server going away and coming back, with what changed meanwhile.
 */
import assert from "node:assert/strict";
import { TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../tui/data/clock.ts";
import { KEYS, renderTui, startTuiHarness } from "./_support/tui_harness.ts";

Deno.test("TUI shell", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  try {
    await t.step("sign in: the password is masked, a wrong one is refused, then the overview", async () => {
      const admin = await h.user("admin");
      const screen = renderTui({ url: h.url });
      try {
        await screen.waitFor("taskmesh — sign in");
        screen.press(...admin.email, KEYS.enter, ..."wrong password", KEYS.enter);
        const refused = await screen.waitFor("sign-in failed: unauthenticated");
        assert.ok(!refused.includes("wrong password"), "the password must never be shown");
        screen.press(...admin.password);
        const typed = await screen.waitFor("•".repeat(admin.password.length));
        assert.ok(!typed.includes(admin.password));
        screen.press(KEYS.enter);
        await screen.waitFor("Workers connected: 0");
        await screen.waitFor(admin.email);
      } finally {
        screen.unmount();
      }
    });

    await t.step("keys: ? help, : jump, tab and numbers, esc back, q quits", async () => {
      let quit = false;
      const screen = renderTui({
        url: h.url,
        session: await h.session("operator"),
        onQuit: () => quit = true,
      });
      try {
        await screen.waitFor("Workers connected");
        screen.press("?");
        let frame = await screen.waitFor("Keys (esc or ? to close)");
        assert.match(frame, /jump to a view by name/);
        assert.match(frame, /q ctrl\+c\s+quit/);
        screen.press(KEYS.esc);
        await screen.waitForGone("Keys (esc or ? to close)");
        screen.press(":", ..."dead", KEYS.enter);
        await screen.waitFor("no dead letters");
        screen.press(":", ..."nowhere", KEYS.enter);
        await screen.waitFor("no view called nowhere");
        screen.press(KEYS.tab);
        await screen.waitFor("Workers 0 connected");
        screen.press("3");
        await screen.waitFor("/ to filter");
        screen.press(KEYS.esc);
        await screen.waitFor("Workers 0 connected");
        screen.press(KEYS.esc);
        await screen.waitFor("no dead letters");
        screen.press("2", "?");
        frame = await screen.waitFor("Keys (esc or ? to close)");
        assert.match(frame, /p\s+pause the queue \(asks first\)/);
        // An escape and the next key in one read are one meta key to ink: one at a time.
        screen.press(KEYS.esc);
        await screen.waitForGone("Keys (esc or ? to close)");
        screen.press("q");
        await screen.waitFor(() => quit);
      } finally {
        screen.unmount();
      }
    });

    await t.step("a viewer sees no action keys, and pressing one does nothing", async () => {
      await h.tasks.enqueue({ task: { queue: "emails", type: "email.send" } });
      const screen = renderTui({ url: h.url, session: await h.session("viewer"), initialView: "queues" });
      try {
        let frame = await screen.waitFor(/emails\s+0\s+0\s+1/);
        assert.match(frame, /view only/);
        assert.doesNotMatch(frame, /p pause/);
        screen.press("p", "?");
        frame = await screen.waitFor("Keys (esc or ? to close)");
        assert.doesNotMatch(frame, /Pause queue/);
        assert.doesNotMatch(frame, /pause the queue/);
        assert.match(frame, /Your role can look but not act/);
        screen.press(KEYS.esc);
        await screen.waitForGone("Keys (esc or ? to close)");
        screen.press("6");
        await screen.waitFor("Tag approval is for admins");
        screen.press("3");
        frame = await screen.waitFor(/email\.send\s+queued/);
        assert.doesNotMatch(frame, /r retry|c cancel/);
        // Keys are handled in order: once the `:` prompt is up, `c` has been handled.
        screen.press("c", ":");
        frame = await screen.waitFor("view name (tasks, dead, workers…)");
        assert.doesNotMatch(frame, /Cancel task/);
      } finally {
        screen.unmount();
      }
    });

    await t.step("--read-only: an admin sees everything and can change nothing", async () => {
      const screen = renderTui({
        url: h.url,
        session: await h.session("admin"),
        readOnly: true,
        initialView: "queues",
      });
      try {
        const frame = await screen.waitFor(/emails\s+0\s+0\s+1/);
        assert.match(frame, /READ-ONLY/);
        assert.doesNotMatch(frame, /p pause/);
        screen.press("p", "6");
        const approval = await screen.waitFor("no pending suggestions");
        assert.doesNotMatch(approval, /a approve/);
        assert.doesNotMatch(approval, /Pause queue/);
      } finally {
        screen.unmount();
      }
    });

    await t.step("a terminal resize re-lays the screen", async () => {
      await h.tasks.enqueueBatch({
        tasks: Array.from({ length: 49 }, (_, i) => ({ queue: "bulk", type: `bulk.${i}` })),
      });
      const screen = renderTui({ url: h.url, session: await h.session("viewer"), initialView: "tasks" }, {
        columns: 120,
        rows: 40,
      });
      try {
        await screen.waitFor("1–32 of 50");
        screen.resize(100, 20);
        const frame = await screen.waitFor("1–12 of 50");
        assert.ok(frame.split("\n").length <= 20, frame);
        screen.resize(120, 30);
        await screen.waitFor("1–22 of 50");
      } finally {
        screen.unmount();
      }
    });

    await t.step("the server going away shows; once back, a fresh list shows what changed", async () => {
      // The stores wait out their backoff on this clock, so they reconnect only once it is
      // moved on: what changes before that can reach the TUI only through the fresh list.
      const clock = new ManualClock(Date.now());
      const leaving = (await h.tasks.enqueue({ task: { queue: "away", type: "away.cancelled" } })).task!;
      const screen = renderTui({
        url: h.url,
        session: await h.session("operator"),
        clock,
        backoff: { initialMs: 100, maxMs: 400 },
        initialView: "tasks",
      });
      // The admin clients' own connection to the old server was cut too: one retry.
      const afterRestart = <T>(call: () => Promise<T>) => call().catch(() => call());
      try {
        await screen.waitFor(/away\.cancelled\s+queued/);
        await screen.waitFor("● connected");
        await h.stopServer();
        // Every stream the status line lists has failed, so each store is waiting on the clock.
        const lost = await screen.waitFor((f) =>
          /✖ connection lost — reconnecting, attempt \d+, next in \S+ .* · \S/.test(f) &&
          f.includes("tasks✖") &&
          !/\w●/.test(f)
        );
        await clock.sleepers(lost.match(/\w✖/g)!.length);
        await h.startServerAgain();
        await afterRestart(() => h.tasks.cancelTask({ id: leaving.id }));
        const arrived = (await h.tasks.enqueue({ task: { queue: "away", type: "away.arrived" } })).task!;
        assert.equal((await h.tasks.getTask({ id: leaving.id })).task?.state, TaskState.CANCELLED);
        let frame = screen.lastFrame();
        assert.match(frame, /connection lost/);
        assert.match(frame, /away\.cancelled\s+queued/);
        assert.ok(!frame.includes(arrived.id.slice(0, 8)), frame);
        clock.advance(1000);
        frame = await screen.waitFor((f) =>
          f.includes("● connected") && /away\.cancelled\s+cancelled/.test(f) &&
          /away\.arrived\s+queued/.test(f)
        );
        assert.ok(frame.includes(arrived.id.slice(0, 8)), frame);
        // And the new watch is live: a task enqueued now arrives as an event.
        await h.tasks.enqueue({ task: { queue: "after", type: "after.restart" } });
        await screen.waitFor(/after\.restart\s+queued/);
      } finally {
        screen.unmount();
      }
    });
  } finally {
    await h.close();
  }
});
