/**
 * SMTP behaviour of campaign mail against a real sink on loopback: a 4xx is retried with
 * backoff (the server's clock is moved to each retry) until accepted; a 5xx fails that
 * delivery for good and suppresses the address, so the next run skips it; and an error
 * rate over the campaign's threshold pauses it with the reason, leaving the rest pending.
 */
import assert from "node:assert/strict";
import { CampaignState, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { createClient } from "@connectrpc/connect";
import { AlertKind, AlertService } from "../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { tasksOf } from "../server/runtimes.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { eventually } from "./_support/until.ts";

const explicit = (emails: string[]) => ({ source: { case: "explicit" as const, value: { emails } } });

Deno.test("4xx twice then accepted; 5xx failed for good and suppressed", async () => {
  const clock = new ManualClock(Date.now());
  const tries = new Map<string, number>();
  const bench = await startCampaignBench({
    clock,
    answer: ([to]) => {
      const n = (tries.get(to) ?? 0) + 1;
      tries.set(to, n);
      if (to === "busy@example.test" && n <= 2) return 451;
      if (to === "gone@example.test") return 550;
      return undefined;
    },
  });
  const { client, auth } = bench;
  const rt = tasksOf(bench.server.app.runtimes);
  try {
    for (const who of ["busy", "gone", "fine"]) await bench.member(`${who}@example.test`);
    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi {{ recipient.email }}</p>" },
    }, auth);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "smtp",
        templateId: template!.id,
        audience: explicit(["busy@example.test", "gone@example.test", "fine@example.test"]),
        ratePerSecond: 1000,
        maxErrorRate: 1,
      },
    }, auth);
    const id = campaign!.id;
    await client.launchCampaign({ id }, auth);
    const rows = async () =>
      Object.fromEntries(
        (await client.listDeliveries({ campaignId: id }, auth)).deliveries.map((d) => [d.email, d]),
      );

    // Each retry waits for its backoff on the server's clock: move it there, once nothing runs.
    while ((await rows())["busy@example.test"].state !== DeliveryState.SENT) {
      const busy = (await rows())["busy@example.test"];
      const task = (await rt.get(busy.taskId))?.task;
      if (task?.state === "scheduled") {
        clock.set(Math.max(clock.now(), task.runAt));
        await rt.tick();
      }
      await eventually("the busy delivery moves", async () => {
        const now = (await rows())["busy@example.test"];
        return now.attempts !== busy.attempts || now.state !== busy.state ? true : undefined;
      });
    }
    const done = await rows();
    assert.equal(done["busy@example.test"].attempts, 3, "two 451s, then accepted");
    assert.match(done["busy@example.test"].lastError, /451/);
    assert.equal(done["gone@example.test"].state, DeliveryState.FAILED);
    assert.match(done["gone@example.test"].lastError, /smtp_550/);
    assert.equal(done["gone@example.test"].attempts, 1, "a 5xx is not retried");
    assert.equal(done["fine@example.test"].state, DeliveryState.SENT);
    assert.equal(tries.get("gone@example.test"), 1);
    const failuresFirst = await client.listDeliveries({ campaignId: id, failuresFirst: true }, auth);
    assert.deepEqual(failuresFirst.deliveries.map((d) => d.email), [
      "gone@example.test",
      "busy@example.test",
      "fine@example.test",
    ]);
    const [suppressed] = await bench.server.db.sql`
      select reason from campaign_suppressions where email_key = 'gone@example.test'`;
    assert.equal(suppressed.reason, "hard_bounced");

    await eventually(
      "the first run completes",
      async () =>
        (await client.getCampaign({ id }, auth)).campaign!.state === CampaignState.COMPLETED || undefined,
    );
    clock.advance(1000);
    await client.startCampaignRun({ campaignId: id }, auth);
    await eventually(
      "the second run completes",
      async () =>
        (await client.getCampaign({ id }, auth)).campaign!.state === CampaignState.COMPLETED || undefined,
    );
    const second = await rows();
    assert.equal(second["gone@example.test"].state, DeliveryState.SKIPPED);
    assert.equal(second["gone@example.test"].skipReason, "hard_bounced");
    assert.equal(tries.get("gone@example.test"), 1, "a hard-bounced address is never tried again");
  } finally {
    await bench.close();
  }
});

Deno.test("an error rate over the threshold pauses the campaign with the reason", async () => {
  const bench = await startCampaignBench({
    concurrency: 2,
    answer: ([to]) => Number(to.match(/^m(\d+)@/)?.[1]) % 2 === 0 ? 550 : undefined,
  });
  const { client, auth } = bench;
  try {
    const emails = Array.from({ length: 100 }, (_, i) => `m${i}@example.test`);
    for (const e of emails) await bench.member(e);
    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi</p>" },
    }, auth);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "bouncy",
        templateId: template!.id,
        audience: explicit(emails),
        ratePerSecond: 10,
        maxConcurrency: 2,
        maxErrorRate: 0.3,
      },
    }, auth);
    const id = campaign!.id;
    await client.launchCampaign({ id }, auth);
    const paused = await eventually("the campaign pauses itself", async () => {
      const c = (await client.getCampaign({ id }, auth)).campaign!;
      return c.state === CampaignState.PAUSED ? c : undefined;
    });
    assert.match(paused.pauseReason, /^error rate 0\.\d\d over 0\.30 after \d+ finished deliveries$/);
    assert.match(paused.currentRun!.pauseReason, /^error rate/);
    assert.deepEqual(await bench.campaigns.autoPaused(), [{
      id,
      name: "bouncy",
      reason: paused.pauseReason,
    }]);
    // The alerts read it: a campaign_auto_paused rule fires, naming the campaign and the reason.
    await createClient(AlertService, bench.server.connectH2()).createAlertRule({
      rule: { name: "campaign paused", kind: AlertKind.CAMPAIGN_AUTO_PAUSED, emailTo: "ops@example.test" },
    }, bench.admin);
    const pass = await bench.server.app.runtimes.alerts!.evaluate();
    const fired = pass!.notifications.find((n) => n.rule.name === "campaign paused")!;
    assert.equal(fired.status, "firing");
    assert.match(fired.summary, /campaigns paused automatically: bouncy \(error rate 0\.\d\d over 0\.30/);
    // What was in flight finishes; nothing more is handed over.
    const settled = await eventually("in-flight mails finish", async () => {
      const c = (await client.getCampaign({ id }, auth)).campaign!;
      return c.stats!.sending === 0n ? c : undefined;
    });
    assert.ok(settled.stats!.pending > 50n, `still pending: ${settled.stats!.pending}`);
    assert.equal(settled.stats!.sent + settled.stats!.failed + settled.stats!.pending, 100n);
    // Sets: a lease lost on a loaded machine may send a mail twice (at least once), never skip one.
    // The alert's own mail to ops@ goes through the same sink.
    const campaignMail = new Set(bench.received().filter((to) => to !== "ops@example.test"));
    assert.equal(BigInt(campaignMail.size), settled.stats!.sent);
    console.log(
      `auto-pause: ${paused.pauseReason}; sent ${settled.stats!.sent}, failed ${settled.stats!.failed}, ` +
        `pending ${settled.stats!.pending}`,
    );
  } finally {
    await bench.close();
  }
});
