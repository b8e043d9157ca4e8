/**
 * A recurring campaign's ticks as the schedules module fires them: a `campaign.run` task
 * (payload {"campaign_id"}, tick in the label `schedule_tick`) on the `campaigns` queue is
 * executed by the server, starting that tick's run; the same tick fired again is the same
 * run; a task naming no campaign fails for good.
 */
import assert from "node:assert/strict";
import { CampaignState, RunState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import type { NewTask } from "../server/tasks/model.ts";
import { tasksOf } from "../server/runtimes.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { eventually } from "./_support/until.ts";

function tickTask(campaignId: string, tick: number): NewTask {
  return {
    queue: "campaigns",
    type: "campaign.run",
    payload: new TextEncoder().encode(JSON.stringify({ campaign_id: campaignId })),
    priority: 0,
    runAt: Date.now(),
    maxAttempts: 3,
    backoff: { initialMs: 1000, maxMs: 10_000, multiplier: 2 },
    timeoutMs: 60_000,
    idempotencyKey: "",
    labels: { schedule_tick: new Date(tick).toISOString() },
    dependsOn: [],
    dependsOnBatchIndex: [],
    condition: "on_success",
  };
}

Deno.test("campaign.run tasks start each tick's run once", async () => {
  const bench = await startCampaignBench();
  const { client, auth } = bench;
  const rt = tasksOf(bench.server.app.runtimes);
  try {
    await bench.member("tick@example.test");
    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Tick", htmlBody: "<p>{{ campaign.run_time }}</p>" },
    }, auth);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "ticking",
        templateId: template!.id,
        audience: { source: { case: "explicit", value: { emails: ["tick@example.test"] } } },
        schedule: { when: { case: "cron", value: { expression: "0 8 * * *", timeZone: "UTC" } } },
      },
    }, auth);
    const id = campaign!.id;
    assert.equal((await client.launchCampaign({ id }, auth)).campaign!.state, CampaignState.SCHEDULED);

    const tick = Date.UTC(2026, 11, 1, 8, 0);
    const finished = async (taskId: string) =>
      await eventually("the tick's task ends", async () => {
        const t = (await rt.get(taskId))?.task;
        return t && ["succeeded", "dead"].includes(t.state) ? t : undefined;
      });
    const first = await finished((await rt.enqueue([tickTask(id, tick)])).tasks[0].id);
    assert.equal(first.state, "succeeded");
    const runId = JSON.parse(new TextDecoder().decode(first.output!)).run_id;
    const again = await finished((await rt.enqueue([tickTask(id, tick)])).tasks[0].id);
    assert.equal(JSON.parse(new TextDecoder().decode(again.output!)).run_id, runId, "same tick, same run");

    const run = await eventually("the run completes", async () => {
      const { runs } = await client.listCampaignRuns({ campaignId: id }, auth);
      return runs.length === 1 && runs[0].state === RunState.COMPLETED ? runs[0] : undefined;
    });
    assert.equal(run.id, runId);
    assert.equal(Number(run.runTime!.seconds) * 1000, tick);
    assert.equal(run.stats!.sent, 1n);
    assert.deepEqual(bench.received(), ["tick@example.test"]);

    const orphan = await finished((await rt.enqueue([tickTask(crypto.randomUUID(), tick)])).tasks[0].id);
    assert.equal(orphan.state, "dead");
    assert.equal(orphan.lastError?.code, "campaign_refused");
  } finally {
    await bench.close();
  }
});
