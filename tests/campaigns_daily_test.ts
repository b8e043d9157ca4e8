/**
 * The daily challenge end to end, on a manual clock: three members with different
 * subscriptions and skill levels, a library of 20 items imported at once, a campaign on
 * cron "0 8 * * *" UTC picking one item per member. Over five days each member gets one
 * matching item a day, never the same item twice, skill level first; the member whose
 * items run out is skipped with the reason. Each tick is its own run with its own
 * ledger, and starting a tick's run again returns the same run.
 */
import assert from "node:assert/strict";
import { CampaignState, DeliveryState, RunState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { decodeQuotedPrintable } from "../mail/testing.ts";
import { ManualClock } from "../server/clock.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { eventually } from "./_support/until.ts";

const DAY = 24 * 3600_000;
// Now, not a made-up date: the worker measures attempt deadlines (set by the server's
// clock) on its own wall clock, so the server's clock may run ahead of it, never behind.
const START = Date.now();
/** The first 08:00 UTC after START. */
const FIRST_TICK = (() => {
  const d = new Date(START);
  const eight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 8, 0);
  return eight > START ? eight : eight + DAY;
})();

Deno.test("daily challenge: one matching, never repeated item a day for five days", async () => {
  const clock = new ManualClock(START);
  const bench = await startCampaignBench({ clock });
  const { client, auth } = bench;
  try {
    const algorithms = await bench.tag("Algorithms");
    const graphs = await bench.tag("Graphs", TagType.TOPIC, algorithms);
    const strings = await bench.tag("Strings", TagType.TOPIC, algorithms);
    const sqlTag = await bench.tag("SQL");
    const beginner = await bench.tag("Beginner", TagType.SKILL_LEVEL);
    const advanced = await bench.tag("Advanced", TagType.SKILL_LEVEL);

    // 20 items: 8 graph and 8 string challenges (half beginner, half advanced), 4 SQL ones.
    const specs: { key: string; topic: string; level: string }[] = [];
    for (const [name, topic] of [["graphs", graphs], ["strings", strings]]) {
      for (let i = 0; i < 8; i++) {
        specs.push({ key: `${name}-${i}`, topic, level: i < 4 ? beginner : advanced });
      }
    }
    for (let i = 0; i < 4; i++) specs.push({ key: `sql-${i}`, topic: sqlTag, level: beginner });
    const imported = await client.importContentItems({
      items: specs.map((s) => ({
        key: s.key,
        title: `Challenge ${s.key}`,
        bodyMarkdown: `Solve **${s.key}**.`,
        tagIds: [s.topic, s.level],
        metadata: { difficulty: s.level === beginner ? "easy" : "hard" },
      })),
    }, auth);
    assert.deepEqual([imported.created, imported.updated], [20, 0]);
    const again = await client.importContentItems({
      items: [{
        key: "sql-0",
        title: "Challenge sql-0",
        bodyMarkdown: "Solve **sql-0**.",
        tagIds: [sqlTag, beginner],
      }],
    }, auth);
    assert.deepEqual([again.created, again.updated], [0, 1], "import matches on key");

    const ana = await bench.member("ana@example.test"); // all algorithms, beginner
    await bench.subscribe(ana, algorithms);
    await bench.subscribe(ana, beginner);
    const ben = await bench.member("ben@example.test"); // graphs, advanced
    await bench.subscribe(ben, graphs);
    await bench.subscribe(ben, advanced);
    const cy = await bench.member("cy@example.test"); // SQL only: four items for five days
    await bench.subscribe(cy, sqlTag);

    const { template } = await client.createTemplate({
      template: {
        name: "daily",
        subject: "Today: {{ item.title }}",
        htmlBody: "<h1>{{ item.title }}</h1>{{ item.html | raw }}<p>{{ item.metadata.difficulty }}</p>",
      },
    }, auth);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "daily challenge",
        templateId: template!.id,
        audience: {
          source: { case: "tags", value: { tagIds: [algorithms, sqlTag], includeDescendants: true } },
        },
        schedule: { when: { case: "cron", value: { expression: "0 8 * * *", timeZone: "UTC" } } },
        content: { enabled: true },
        ratePerSecond: 1000,
      },
    }, auth);
    const id = campaign!.id;
    const launched = (await client.launchCampaign({ id }, auth)).campaign!;
    assert.equal(launched.state, CampaignState.SCHEDULED);
    assert.equal(Number(launched.nextRunTime!.seconds) * 1000, FIRST_TICK);

    const titles = new Map<string, string[]>(); // email → item keys in order
    const skipped: string[] = [];
    for (let day = 0; day < 5; day++) {
      const tick = FIRST_TICK + day * DAY;
      clock.set(tick);
      const run = await eventually(`day ${day + 1}'s run completes`, async () => {
        const { runs } = await client.listCampaignRuns({ campaignId: id }, auth);
        const r = runs.find((x) => Number(x.runTime!.seconds) * 1000 === tick);
        return r?.state === RunState.COMPLETED ? r : undefined;
      });
      const { deliveries } = await client.listDeliveries({ campaignId: id, runId: run.id }, auth);
      assert.equal(deliveries.length, 3);
      for (const d of deliveries) {
        if (d.state === DeliveryState.SKIPPED) {
          skipped.push(`${d.email} day ${day + 1}: ${d.skipReason}`);
          continue;
        }
        assert.equal(d.state, DeliveryState.SENT, `${d.email} day ${day + 1}`);
        const item = (await client.getContentItem({ id: d.contentItemId }, auth)).item!;
        titles.set(d.email, [...titles.get(d.email) ?? [], item.key]);
      }
      // Starting the same tick again is the same run: nothing new is written or sent.
      const repeat = await bench.campaigns.runner.startRun(id, tick);
      assert.equal(repeat.id, run.id);
    }

    assert.deepEqual(titles.get("ana@example.test"), [
      "graphs-0",
      "graphs-1",
      "graphs-2",
      "graphs-3",
      "strings-0",
    ]);
    assert.deepEqual(titles.get("ben@example.test"), [
      "graphs-4",
      "graphs-5",
      "graphs-6",
      "graphs-7",
      "graphs-0",
    ]);
    assert.deepEqual(titles.get("cy@example.test"), ["sql-0", "sql-1", "sql-2", "sql-3"]);
    assert.deepEqual(skipped, ["cy@example.test day 5: no_content_left"]);
    for (const [email, keys] of titles) {
      assert.equal(new Set(keys).size, keys.length, `${email} got a repeat`);
    }

    // What each member received matches the ledger, one mail per member per day.
    const mails = bench.sink.received.map((m) => ({ to: m.to[0], raw: decodeQuotedPrintable(m.raw) }));
    assert.equal(mails.length, 14);
    for (const [email, keys] of titles) {
      const got = mails.filter((m) => m.to === email).map((m) =>
        m.raw.match(/Today: Challenge ([\w-]+)/)![1]
      );
      assert.deepEqual(got, keys);
    }
    assert.match(
      mails[0].raw,
      /<p>Solve <strong>(graphs|sql)-0<\/strong>\.<\/p>/,
      "the item's HTML, not escaped",
    );
    const { runs } = await client.listCampaignRuns({ campaignId: id }, auth);
    assert.equal(runs.length, 5, "one run per tick");
    assert.deepEqual(runs.map((r) => [r.stats!.sent, r.stats!.skipped]), [[2n, 1n], [3n, 0n], [3n, 0n], [
      3n,
      0n,
    ], [3n, 0n]]);
  } finally {
    await bench.close();
  }
});
