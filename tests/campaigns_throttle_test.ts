/**
 * Throttle: a campaign's mails go through its own limit group in the engine, so the
 * SMTP sink sees them at the campaign's rate (within ±10 %), however many worker slots
 * are free.
 */
import assert from "node:assert/strict";
import { CampaignState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { eventually } from "./_support/until.ts";

const RATE = 20;
const COUNT = 80;

Deno.test(`a campaign at ${RATE} mails/s reaches the sink at that rate, ±10 %`, async () => {
  const arrivals: number[] = [];
  const bench = await startCampaignBench({
    concurrency: 16,
    answer: () => (arrivals.push(performance.now()), undefined),
  });
  const { client, auth } = bench;
  try {
    const emails = Array.from({ length: COUNT }, (_, i) => `t${i}@example.test`);
    for (const e of emails) await bench.member(e);
    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi</p>" },
    }, auth);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "throttled",
        templateId: template!.id,
        audience: { source: { case: "explicit", value: { emails } } },
        ratePerSecond: RATE,
        maxConcurrency: 16,
      },
    }, auth);
    await client.launchCampaign({ id: campaign!.id }, auth);
    await eventually(
      "the campaign completes",
      async () =>
        (await client.getCampaign({ id: campaign!.id }, auth)).campaign!.state === CampaignState.COMPLETED ||
        undefined,
    );
    assert.equal(arrivals.length, COUNT);
    // The bucket's burst (RATE / 10) may go at once; the rate is measured after it.
    const burst = Math.round(RATE / 10);
    const steady = arrivals.slice(burst);
    const rate = (steady.length - 1) / ((steady[steady.length - 1] - steady[0]) / 1000);
    console.log(`throttle: ${rate.toFixed(2)} mails/s for a limit of ${RATE}`);
    assert.ok(Math.abs(rate - RATE) <= RATE * 0.1, `measured ${rate.toFixed(2)} mails/s`);
  } finally {
    await bench.close();
  }
});
