/**
 * Campaign metrics after a known campaign against a real SMTP sink: two mails accepted,
 * one refused with a 5xx (failed for good), three skipped at launch (unverified,
 * suppressed, not a member) give exactly sent 2, failed 1, skipped 3 on /metrics; the
 * same task event applied again moves no row and counts nothing; and Debian's
 * `promtool check metrics` accepts the scrape. Skips at hand-over (an address suppressed
 * while its run was paused) and a cancel's pending rows are counted too.
 */
import assert from "node:assert/strict";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CampaignState, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { tasksOf } from "../server/runtimes.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { parseSamples, promtoolCheck, sample } from "./_support/prom_text.ts";
import { eventually } from "./_support/until.ts";

/** The campaign mails counters of a scrape's text, by outcome. */
function mails(text: string): Record<string, number> {
  const s = parseSamples(text);
  return Object.fromEntries(
    ["sent", "failed", "skipped"].map((o) => [o, sample(s, `taskmesh_campaign_mails_total{outcome="${o}"}`)]),
  );
}

async function mailsOf(url: string): Promise<Record<string, number>> {
  return mails(await (await fetch(`${url}/metrics`)).text());
}

Deno.test("a known campaign shows its exact mails sent, failed and skipped on /metrics", async () => {
  const bench = await startCampaignBench({ answer: ([to]) => to === "gone@example.test" ? 550 : undefined });
  const { client, auth } = bench;
  const scrape = async () => await (await fetch(`${bench.server.url}/metrics`)).text();
  try {
    assert.deepEqual(mails(await scrape()), { sent: 0, failed: 0, skipped: 0 }, "zero series from the start");
    for (const who of ["ada", "bob", "gone", "left"]) await bench.member(`${who}@example.test`);
    await bench.member("eve@example.test", { verified: false });
    await bench.server.db.sql`
      insert into campaign_suppressions (email_key, reason, created_at)
      values ('left@example.test', 'unsubscribed', now())`;
    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi {{ recipient.email }}</p>" },
    }, auth);
    const audience = ["ada", "bob", "gone", "left", "eve", "stranger"].map((w) => `${w}@example.test`);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "metrics",
        templateId: template!.id,
        audience: { source: { case: "explicit", value: { emails: audience } } },
        ratePerSecond: 1000,
        maxErrorRate: 1,
      },
    }, auth);
    const id = campaign!.id;
    await client.launchCampaign({ id }, auth);
    const done = await eventually(
      "the run completes",
      async () => {
        const c = (await client.getCampaign({ id }, auth)).campaign!;
        return c.state === CampaignState.COMPLETED ? c : undefined;
      },
    );
    assert.deepEqual([done.stats!.sent, done.stats!.failed, done.stats!.skipped], [2n, 1n, 3n]);
    assert.deepEqual(bench.received().sort(), ["ada@example.test", "bob@example.test"]);
    const text = await scrape();
    assert.deepEqual(mails(text), { sent: 2, failed: 1, skipped: 3 });

    // The finished tasks' events again (a late duplicate, or the sweep after the event): no row moves.
    const { deliveries } = await client.listDeliveries({ campaignId: id }, auth);
    const rt = tasksOf(bench.server.app.runtimes);
    for (const d of deliveries.filter((d) => d.state !== DeliveryState.SKIPPED)) {
      const task = (await rt.get(d.taskId))!.task;
      await bench.campaigns.sync.apply(d.id, task, "running");
    }
    assert.deepEqual(mails(await scrape()), { sent: 2, failed: 1, skipped: 3 }, "nothing counted twice");

    const { ok, output } = await promtoolCheck(text);
    assert.ok(ok, output);
  } finally {
    await bench.close();
  }
});

Deno.test("skips at hand-over and a cancel's pending rows are counted", async () => {
  const bench = await startCampaignBench();
  const { client, auth } = bench;
  try {
    for (const who of ["q1", "q2", "q3", "c1", "c2"]) await bench.member(`${who}@example.test`);
    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi</p>" },
    }, auth);
    /** A campaign launched for later and paused, then given a (paused) run: its rows wait, pending. */
    const pausedRun = async (name: string, emails: string[]) => {
      const { campaign } = await client.createCampaign({
        campaign: {
          name,
          templateId: template!.id,
          audience: { source: { case: "explicit", value: { emails } } },
          ratePerSecond: 1000,
          schedule: { when: { case: "at", value: timestampFromMs(Date.now() + 3_600_000) } },
        },
      }, auth);
      const id = campaign!.id;
      await client.launchCampaign({ id }, auth);
      await client.pauseCampaign({ id }, auth);
      await client.startCampaignRun({ campaignId: id }, auth);
      return id;
    };
    const kept = await pausedRun("kept", ["q1", "q2", "q3", "nobody"].map((w) => `${w}@example.test`));
    assert.deepEqual(await mailsOf(bench.server.url), { sent: 0, failed: 0, skipped: 1 }, "not a member");
    await bench.server.db.sql`
      insert into campaign_suppressions (email_key, reason, created_at)
      values ('q1@example.test', 'unsubscribed', now())`;
    await client.resumeCampaign({ id: kept }, auth);
    // The campaign waits for its own time again afterwards: the run's ledger says when this one is over.
    await eventually("the resumed run sends its mails", async () => {
      const stats = (await client.getCampaign({ id: kept }, auth)).campaign!.stats!;
      return stats.sent === 2n && stats.skipped === 2n && stats.sending === 0n || undefined;
    });
    const { deliveries } = await client.listDeliveries({ campaignId: kept }, auth);
    assert.equal(deliveries.find((d) => d.email === "q1@example.test")!.skipReason, "unsubscribed");
    assert.deepEqual(await mailsOf(bench.server.url), { sent: 2, failed: 0, skipped: 2 });

    const dropped = await pausedRun("dropped", ["c1@example.test", "c2@example.test"]);
    await client.cancelCampaign({ id: dropped }, auth);
    await client.cancelCampaign({ id: dropped }, auth);
    assert.deepEqual(await mailsOf(bench.server.url), { sent: 2, failed: 0, skipped: 4 }, "cancelled once");
  } finally {
    await bench.close();
  }
});
