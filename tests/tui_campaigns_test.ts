/**
 * The Campaigns view as a component: the whole TUI rendered with ink-testing-library,
 * its calls going in-process to a CampaignService the test feeds (exact figures, and
 * WatchCampaign answers pushed when the test wants the view to move). Progress bars,
 * rate and ETA follow the stream; pause, resume and cancel ask first and only
 * operators get them; opening a campaign lists its deliveries failures first. It fits
 * 80×24. A last test drives the same view against the real server while a campaign
 * sends to a loopback SMTP sink.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CampaignState, DeliverySchema, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { createAdmin } from "../server/auth/first_admin.ts";
import { Session } from "../tui/data/session.ts";
import { signInWithPassword } from "../tui/data/sign_in.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { type CampaignFeed, startCampaignFeed } from "./_support/campaign_feed.ts";
import { KEYS, renderTui, type Screen } from "./_support/tui_harness.ts";

const COLUMNS = 80;
const ROWS = 24;
const OPERATOR = ["tasks:read", "campaigns:read", "campaigns:manage"];
const VIEWER = ["tasks:read", "campaigns:read"];

function assertFits(frame: string): void {
  const lines = frame.split("\n");
  assert.ok(lines.length <= ROWS, `${lines.length} lines:\n${frame}`);
  assert.deepEqual(lines.filter((l) => [...l].length > COLUMNS), [], `wider than ${COLUMNS}:\n${frame}`);
  assert.match(lines[0], /^taskmesh .*1.*2.*3.*4.*5.*6.*7.*8.*9.*0 Campaigns/);
}

function feedWithCampaigns(): CampaignFeed {
  const feed = startCampaignFeed();
  feed.add({
    id: "c-old",
    name: "Spring newsletter",
    state: CampaignState.COMPLETED,
    stats: { total: 300n, sent: 297n, failed: 1n, skipped: 2n },
  });
  feed.add({
    id: "c-daily",
    name: "Daily challenge",
    state: CampaignState.SENDING,
    stats: { total: 1000n, pending: 1000n },
  });
  return feed;
}

function show(feed: CampaignFeed, scopes: string[]): Screen {
  return renderTui(
    {
      url: "http://in-process.invalid",
      session: Session.fromApiKey("tm_feedkey", scopes),
      initialView: "campaigns",
      transport: feed.transport,
    },
    { columns: COLUMNS, rows: ROWS },
  );
}

Deno.test("TUI campaigns", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const feed = feedWithCampaigns();
  const screen = show(feed, OPERATOR);
  try {
    await t.step("campaigns are listed with a progress bar; a finished one says done", async () => {
      const frame = await screen.waitFor(/Daily challenge\s+sending\s+░{10}\s+0%\s+0\/1000\s+0\s+—\s+—/);
      assert.match(frame, /Spring newslette\S*\s+completed\s+█{10}\s+100%\s+297\/300\s+1\s+—\s+done/);
      assert.match(frame, /Campaigns 2 · 1 sending · 0 paused/);
      assert.match(frame, /enter deliveries · p pause · r resume · c cancel for good · \? help/);
      assertFits(frame);
    });

    await t.step("the bar, rate and ETA follow WatchCampaign", async () => {
      await screen.waitFor(() => feed.watching("c-daily") > 0);
      feed.progress("c-daily", {
        stats: { sent: 250n, failed: 3n, skipped: 2n, pending: 745n },
        rate: 50,
        etaSeconds: 15,
      });
      let frame = await screen.waitFor(
        /Daily challenge\s+sending\s+█{3}░{7}\s+25%\s+250\/1000\s+3\s+50\.0\s+15s/,
      );
      assertFits(frame);
      feed.progress("c-daily", { stats: { sent: 745n, pending: 250n }, rate: 125, etaSeconds: 2 });
      frame = await screen.waitFor(/Daily challenge\s+sending\s+█{8}░{2}\s+75%\s+745\/1000\s+3\s+125\s+2s/);
      assertFits(frame);
    });

    await t.step("p pauses after asking; n changes nothing", async () => {
      screen.press("g", "p");
      await screen.waitFor("Pause campaign Daily challenge? y/n");
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
      assert.deepEqual(feed.calls.filter((c) => !c.startsWith("list")), []);
      screen.press("p");
      await screen.waitFor("Pause campaign Daily challenge? y/n");
      screen.press("y");
      await screen.waitFor("campaign Daily challenge paused");
      const frame = await screen.waitFor(/Daily challenge\s+paused\s+█{8}░{2}\s+75%.*paused/);
      assert.match(frame, /1 paused/);
      assert.deepEqual(feed.calls.filter((c) => !c.startsWith("list")), ["pause c-daily"]);
    });

    await t.step("r resumes after asking; a second r on a sending one is refused", async () => {
      screen.press("r");
      await screen.waitFor("Resume campaign Daily challenge? y/n");
      screen.press("y");
      await screen.waitFor(/Daily challenge\s+sending/);
      screen.press("r");
      await screen.waitFor("campaign Daily challenge is not paused");
      assert.deepEqual(feed.calls.filter((c) => !c.startsWith("list")), ["pause c-daily", "resume c-daily"]);
    });

    await t.step("enter opens the deliveries, failures first", async () => {
      feed.setDeliveries("c-daily", [
        create(DeliverySchema, {
          id: "d1",
          email: "zoe@example.com",
          state: DeliveryState.FAILED,
          attempts: 1,
          lastError: "550 5.1.1 mailbox unavailable",
        }),
        create(DeliverySchema, {
          id: "d2",
          email: "ann@example.com",
          state: DeliveryState.SENT,
          attempts: 1,
          sendTime: timestampFromMs(Date.UTC(2026, 11, 3, 8, 0, 4)),
        }),
        create(DeliverySchema, {
          id: "d3",
          email: "bob@example.com",
          state: DeliveryState.SKIPPED,
          skipReason: "no_content_left",
        }),
      ]);
      screen.press(KEYS.enter);
      const frame = await screen.waitFor(/zoe@example\.com\s+failed\s+1\s+550 5\.1\.1 mailbox/);
      const lines = frame.split("\n");
      const row = (text: string) => lines.findIndex((l) => l.includes(text));
      assert.ok(row("zoe@") < row("ann@") && row("ann@") < row("bob@"), frame);
      assert.match(frame, /ann@example\.com\s+sent\s+1\s+2026-12-03 08:00:04/);
      assert.match(frame, /bob@example\.com\s+skipped\s+0\s+skipped: no_content_left/);
      assert.match(frame, /Campaign Daily challenge sending/);
      assert.match(frame, /745 sent · 3 failed · 2 skipped · 250 pending of 1000/);
      assert.ok(feed.calls.includes("listDeliveries c-daily failuresFirst"), feed.calls.join(", "));
      assertFits(frame);
    });

    await t.step("the opened campaign's figures move too, and its deliveries are read again", async () => {
      const before = feed.calls.filter((c) => c.startsWith("listDeliveries")).length;
      feed.progress("c-daily", { stats: { sent: 995n, pending: 0n }, rate: 100, etaSeconds: 0 });
      await screen.waitFor(/995 sent · 3 failed · 2 skipped · 0 pending of 1000/);
      await screen.waitFor(() => feed.calls.filter((c) => c.startsWith("listDeliveries")).length > before);
    });

    await t.step("c cancels the opened campaign after asking; esc goes back to the list", async () => {
      screen.press("c");
      await screen.waitFor(
        "Cancel campaign Daily challenge for good? Its unsent deliveries are skipped. y/n",
      );
      screen.press("y");
      await screen.waitFor("campaign Daily challenge cancelled");
      await screen.waitFor(/Campaign Daily challenge cancelled/);
      screen.press(KEYS.esc);
      const frame = await screen.waitFor(
        /Daily challenge\s+cancelled\s+█{10}\s+100%\s+995\/1000\s+3\s+—\s+done/,
      );
      assertFits(frame);
    });
  } finally {
    screen.unmount();
  }
});

Deno.test("TUI campaigns: a viewer reads, and is offered no action", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const feed = feedWithCampaigns();
  const screen = show(feed, VIEWER);
  try {
    const frame = await screen.waitFor(/Daily challenge\s+sending/);
    assert.match(frame, /enter deliveries · \? help/);
    assert.doesNotMatch(frame, /p pause|r resume|c cancel/);
    screen.press("p", "r", "c");
    screen.press(KEYS.enter);
    await screen.waitFor("Campaign Daily challenge sending");
    assert.doesNotMatch(screen.lastFrame(), /y\/n/);
    assert.deepEqual(feed.calls.filter((c) => !c.startsWith("list")), []);
  } finally {
    screen.unmount();
  }
});

Deno.test("TUI campaigns against the real server: a campaign sends, pauses, resumes and completes", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const bench = await startCampaignBench({ concurrency: 2 });
  const email = `operator-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  await createAdmin(bench.server.deps, { email, password });
  const session = await signInWithPassword(bench.server.url, email, password);
  const screen = renderTui(
    { url: bench.server.url, session, initialView: "campaigns", campaignPollMs: 200 },
    {
      columns: COLUMNS,
      rows: ROWS,
    },
  );
  try {
    const recipients = Array.from({ length: 40 }, (_, i) => `r${i}@example.test`);
    for (const r of recipients) await bench.member(r);
    const { template } = await bench.client.createTemplate({
      template: { name: "tui", subject: "Hi", htmlBody: '<a href="{{ unsubscribe_url }}">u</a>' },
    }, bench.auth);
    const { campaign } = await bench.client.createCampaign({
      campaign: {
        name: "Live one",
        templateId: template!.id,
        audience: { source: { case: "explicit", value: { emails: recipients } } },
        ratePerSecond: 8,
      },
    }, bench.auth);
    await screen.waitFor(/Live one {2,}draft\s+░{10}\s+0%\s+0\/0/);
    await bench.client.launchCampaign({ id: campaign!.id }, bench.auth);
    // Some sent, some not: the bar moves and the stream gives a rate.
    let frame = await screen.waitFor(/Live one\s+sending\s+\S+\s+\d+%\s+([1-9]|[1-3]\d)\/40\s+0\s+\d/);
    assertFits(frame);
    screen.press("p");
    await screen.waitFor("Pause campaign Live one? y/n");
    screen.press("y");
    // The row turns at once: the view applies the campaign PauseCampaign returned.
    await screen.waitFor(/Live one {2,}paused/);
    screen.press("r");
    await screen.waitFor("Resume campaign Live one? y/n");
    screen.press("y");
    frame = await screen.waitFor(/Live one\s+completed\s+█{10}\s+100%\s+40\/40\s+0\s+—\s+done/, 30_000);
    assertFits(frame);
    screen.press(KEYS.enter);
    frame = await screen.waitFor(/r0@example\.test\s+sent\s+1\s+\d{4}-\d\d-\d\d/);
    assert.match(frame, /40 sent · 0 failed · 0 skipped · 0 pending of 40/);
    assert.equal(bench.received().length, 40);
  } finally {
    screen.unmount();
    await bench.close();
  }
});
