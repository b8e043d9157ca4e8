/**
 * Every view fits a standard 80×24 terminal: the tab bar stays on the first line, no
 * line is wider than the terminal and no row wraps onto a second line (the frame is
 * never taller than the terminal, so nothing scrolls out of sight).
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { bearer } from "./_support/raw_worker.ts";
import { KEYS, renderTui, type Screen, startTuiHarness } from "./_support/tui_harness.ts";

const COLUMNS = 80;
/** Whole queue rows: name, WAIT SCHED QUEUED FLIGHT DEAD, OK/S FAIL/S, WKR, OLDEST, then the trend. */
const ROW = {
  notifications: /notifications\S*\s+0\s+0\s+0\s+1\s+0\s+\S+\s+\S+\s+1\s+\S+\s+[▁-█]{6}/,
  reports: /reports\s+0\s+0\s+0\s+1\s+1\s+\S+\s+\S+\s+1\s+\S+\s+[▁-█]{6}/,
};
const ROWS = 24;

function assertFits(frame: string, what: string): void {
  const lines = frame.split("\n");
  assert.ok(lines.length <= ROWS, `${what}: ${lines.length} lines, more than ${ROWS}:\n${frame}`);
  const wide = lines.filter((l) => [...l].length > COLUMNS);
  assert.deepEqual(wide, [], `${what}: lines wider than ${COLUMNS} columns:\n${frame}`);
  assert.match(
    lines[0],
    /^taskmesh .*1.*2.*3.*4.*5.*6.*7/,
    `${what}: the tab bar is not the first line:\n${frame}`,
  );
}

/** Waits for `expect` (which must name one whole row), then checks the frame fits. */
async function fits(screen: Screen, what: string, expect: RegExp): Promise<string> {
  const frame = await screen.waitFor(expect);
  assertFits(frame, what);
  return frame;
}

Deno.test("TUI: every view fits 80×24", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  const worker = await h.worker(["notifications-outbound", "reports"], {
    id: "worker-with-a-rather-long-hostname-01",
    concurrency: 8,
    version: "taskmesh-worker-ts/0.1.0",
  });
  await h.tasks.enqueue({ task: { queue: "notifications-outbound", type: "notification.push.deliver" } });
  const assign = await worker.nextOf("assign");
  await h.tasks.enqueue({ task: { queue: "reports", type: "report.quarterly.build", maxAttempts: 1 } });
  const doomed = await worker.nextOf("assign");
  worker.send({
    case: "result",
    value: {
      taskId: doomed.task!.id,
      leaseId: doomed.leaseId,
      outcome: {
        case: "error",
        value: {
          message: "the upstream warehouse refused the query: timeout after 30 s".repeat(2),
          retryable: false,
        },
      },
    },
  });
  await worker.nextOf("resultAck");
  await h.tasks.enqueue({ task: { queue: "reports", type: "report.daily" } });
  const root =
    (await h.tags.createTag({ name: "Programming languages and their ecosystems", type: TagType.DOMAIN }))
      .tag!;
  await h.tags.createTag({ name: "TypeScript", type: TagType.LANGUAGE, parentId: root.id });
  const session = await h.session("admin");
  const screen = renderTui({ url: h.url, session }, { columns: COLUMNS, rows: ROWS });
  try {
    await t.step("overview", async () => {
      await fits(screen, "overview", ROW.notifications);
      await fits(screen, "overview", ROW.reports);
    });
    await t.step("queues", async () => {
      screen.press("2");
      await fits(screen, "queues", ROW.reports);
      await fits(screen, "queues", /notifications-outbo…\s+running\s+concurrency/);
    });
    await t.step("tasks, and a task's detail", async () => {
      screen.press("3");
      await fits(
        screen,
        "tasks",
        /[0-9a-f]{8}\s+notifications\S*\s+notification\.push\S*\s+running\s+1\s+\d+s/,
      );
      screen.press("G", KEYS.enter);
      await fits(screen, "task detail", /Attempts/);
      screen.press(KEYS.esc);
      await screen.waitFor("/ to filter");
    });
    await t.step("dead letters", async () => {
      screen.press("4");
      await fits(
        screen,
        "dead letters",
        /[0-9a-f]{8}\s+reports\s+report\.quarterly\S*\s+1\s+\S+\s+the upstream/,
      );
    });
    await t.step("workers", async () => {
      screen.press("5");
      await fits(
        screen,
        "workers",
        /worker-with-a-\S*\s+active\s+notif\S*\s+2\/8\s+█+░+\s+25%\s+\d+s\s+\d+s\s+taskmesh-/,
      );
      // A long question wraps, whole, and the view gives up the rows for it.
      screen.press("d");
      const asked = await fits(
        screen,
        "a confirmation",
        /Drain worker worker-with-a-rather-long-hostname-01\?[^]*y\/n/,
      );
      assert.match(asked, /disconnects\. y\/n/);
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
    });
    await t.step("tag approval, and its approve form", async () => {
      screen.press("6");
      await fits(screen, "tag approval", /no pending suggestions/);
      const member = await h.user("member");
      await createClient(TagService, h.server.grpc()).suggestTag(
        {
          name: "A suggestion with a long name for a narrow screen",
          type: TagType.LANGUAGE,
          reason: "why ".repeat(30),
        },
        bearer(member.token),
      );
      await fits(screen, "tag approval", /A suggestion with a\S*\s+language\s+—\s+1\s+\S+\s+why/);
      screen.press("a");
      await fits(screen, "approve form", /Parent\s+\(none: a root tag\)/);
      screen.press(KEYS.esc);
      await screen.waitFor("Tag approval 1 pending");
    });
    await t.step("tag tree", async () => {
      screen.press("7");
      await fits(screen, "tag tree", /TypeScript {2}\[language\]/);
      screen.press(KEYS.enter);
      await fits(screen, "a tag's details", /aliases: none/);
      screen.press(KEYS.esc);
    });
    await t.step("help", async () => {
      screen.press("?");
      await fits(screen, "help", /Keys \(esc or \? to close\)/);
      screen.press(KEYS.esc);
    });
    worker.send({
      case: "result",
      value: {
        taskId: assign.task!.id,
        leaseId: assign.leaseId,
        outcome: { case: "output", value: new Uint8Array() },
      },
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});
