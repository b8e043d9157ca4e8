/**
 * What is on screen says how fresh it is: while a stream is down every view that shows
 * its figures says "disconnected · stale since …" (and dims them) until it is back; the
 * tag tree follows changes made elsewhere without `r`.
 */
import assert from "node:assert/strict";
import { TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { ManualClock } from "../tui/data/clock.ts";
import { TREE_REFRESH_MS } from "../tui/data/tag_tree.ts";
import { timeOfDay } from "../tui/components/stale_mark.tsx";
import { bearer } from "./_support/raw_worker.ts";
import { KEYS, renderTui, startTuiHarness } from "./_support/tui_harness.ts";
import { createClient } from "@connectrpc/connect";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";

const VIEWS = [
  { key: "1", title: "Workers connected" },
  { key: "2", title: "Queues" },
  { key: "3", title: "Tasks" },
  { key: "4", title: "Dead letters" },
  { key: "5", title: "Workers" },
  { key: "6", title: "Tag approval" },
  { key: "7", title: "Tag tree" },
];

Deno.test("TUI: every view marks its figures stale while the stream is down", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const h = await startTuiHarness();
  await h.tasks.enqueue({ task: { queue: "jobs", type: "job" } });
  await h.tags.createTag({ name: "Go", type: TagType.LANGUAGE });
  // The stores wait out their backoff on this clock: while it stands still they stay down.
  const clock = new ManualClock(Date.now());
  const screen = renderTui({
    url: h.url,
    session: await h.session("admin"),
    clock,
    backoff: { initialMs: 100, maxMs: 400 },
  }, { columns: 120, rows: 30 });
  // The line that starts with a view's title: the marker must be there, not only in the status line.
  const titleLine = (frame: string, title: string) =>
    frame.split("\n").find((l) => l.startsWith(title)) ?? "";
  try {
    // Every view once, so every store is live.
    for (const view of VIEWS) {
      screen.press(view.key);
      await screen.waitFor((f) => titleLine(f, view.title) !== "" && !f.includes("reading"));
    }
    await screen.waitFor("Go  [language]");
    await screen.waitFor((f) => f.includes("● connected"));
    assert.doesNotMatch(screen.lastFrame(), /stale since/);
    const down = clock.now();
    await h.stopServer();
    const marker = `⚠ disconnected · stale since ${timeOfDay(down)}`;
    for (const view of VIEWS.slice(0, 6)) {
      screen.press(view.key);
      const frame = await screen.waitFor((f) => titleLine(f, view.title).includes(marker));
      assert.match(frame, /connection lost/);
    }
    // The figures are still there, marked.
    screen.press("3");
    assert.match(await screen.waitFor((f) => titleLine(f, "Tasks").includes(marker)), /job\s+queued/);
    // And a task's detail, read while the server was away, says so too.
    screen.press(KEYS.enter);
    const detail = await screen.waitFor((f) => /Task [0-9a-f-]{36} QUEUED/.test(f) && f.includes(marker));
    assert.match(detail, /Task [0-9a-f-]{36} QUEUED/);
    screen.press(KEYS.esc);
    await screen.waitFor((f) => titleLine(f, "Tasks").includes(marker));
    // The tree is read, not streamed: it is stale once a refresh fails.
    // Every store is asleep on its backoff; the tree view adds its refresh wait.
    const asleep = clock.pendingSleeps;
    screen.press("7");
    await screen.waitFor((f) => f.startsWith("taskmesh") && /^Tag tree/m.test(f));
    await clock.sleepers(asleep + 1);
    clock.advance(TREE_REFRESH_MS);
    const tree = await screen.waitFor((f) => /^Tag tree .*⚠ disconnected · stale since/m.test(f));
    assert.match(tree, /Go {2}\[language\]/);

    await h.startServerAgain();
    clock.advance(1000);
    screen.press("3");
    await screen.waitFor((f) => f.includes("● connected") && !f.includes("stale since"));
  } finally {
    screen.unmount();
    await h.close();
  }
});

Deno.test("TUI: the tag tree follows changes made elsewhere, without r", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const h = await startTuiHarness();
  const clock = new ManualClock(Date.now());
  try {
    await t.step("an operator's tree is read again every few seconds", async () => {
      const screen = renderTui({
        url: h.url,
        session: await h.session("operator"),
        clock,
        initialView: "tree",
      });
      try {
        await screen.waitFor("no tags");
        await h.tags.createTag({ name: "Rust", type: TagType.LANGUAGE });
        clock.advance(TREE_REFRESH_MS);
        await screen.waitFor("Rust  [language]");
      } finally {
        screen.unmount();
      }
    });

    await t.step("an admin's tree follows an approval made elsewhere at once", async () => {
      const screen = renderTui({ url: h.url, session: await h.session("admin"), clock, initialView: "tree" });
      try {
        await screen.waitFor((f) => f.includes("Rust  [language]") && f.includes("suggestions●"));
        const member = await h.user("member");
        const made = await createClient(TagService, h.server.grpc()).suggestTag(
          { name: "Elixir", type: TagType.LANGUAGE },
          bearer(member.token),
        );
        assert.equal(made.result.case, "suggestion");
        await h.tags.approveSuggestion({ id: made.result.value!.id });
        // The clock has not moved: the approval itself brought the tree up to date.
        await screen.waitFor("Elixir  [language]");
      } finally {
        screen.unmount();
      }
    });
  } finally {
    await h.close();
  }
});
