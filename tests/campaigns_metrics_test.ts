/**
 * Campaign metrics after a known campaign against a real SMTP sink: two mails accepted,
 * one refused with a 5xx (failed for good), three skipped at launch (unverified,
 * suppressed, not a member) give exactly sent 2, failed 1, skipped 3 on /metrics; the
 * same task event applied again moves no row and counts nothing; and Debian's
 * `promtool check metrics` accepts the scrape.
 */
import assert from "node:assert/strict";
import { CampaignState, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { tasksOf } from "../server/runtimes.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { parseSamples, promtoolCheck, sample } from "./_support/prom_text.ts";
import { eventually } from "./_support/until.ts";

Deno.test("a known campaign shows its exact mails sent, failed and skipped on /metrics", async () => {
  const bench = await startCampaignBench({ answer: ([to]) => to === "gone@example.test" ? 550 : undefined });
  const { client, auth } = bench;
  const scrape = async () => await (await fetch(`${bench.server.url}/metrics`)).text();
  const mails = (text: string) => {
    const s = parseSamples(text);
    return Object.fromEntries(
      ["sent", "failed", "skipped"].map((
        o,
      ) => [o, sample(s, `taskmesh_campaign_mails_total{outcome="${o}"}`)]),
    );
  };
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
