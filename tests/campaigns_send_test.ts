/**
 * A campaign from template to sink: a tag audience (descendants included) resolved to
 * verified, enabled members; unverified and suppressed members skipped with their
 * reason; every mail with a stable Message-ID and the RFC 8058 headers; the ledger's
 * sent set equals what the SMTP sink received; then a one-click POST (curl) unsubscribes
 * and the next run skips that member, and a tampered token is refused.
 */
import assert from "node:assert/strict";
import { CampaignState, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { decodeQuotedPrintable } from "../mail/testing.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { eventually } from "./_support/until.ts";

Deno.test("a tag campaign reaches every verified subscriber once, and one-click unsubscribe holds", async (t) => {
  const bench = await startCampaignBench();
  const { client, auth } = bench;
  try {
    const parent = await bench.tag(`Languages ${crypto.randomUUID().slice(0, 6)}`);
    const child = await bench.tag(`Rust ${crypto.randomUUID().slice(0, 6)}`, undefined, parent);
    const ada = await bench.member("ada@example.test", { name: "Ada" });
    const bob = await bench.member("bob@example.test", { name: "Bob" });
    const eve = await bench.member("eve@example.test", { verified: false });
    await bench.subscribe(ada, parent);
    await bench.subscribe(bob, child);
    await bench.subscribe(eve, child);

    const { template } = await client.createTemplate({
      template: {
        name: "hello",
        subject: "Hello {{ recipient.name }}",
        htmlBody: '<p>Hi {{ recipient.name }}</p><a href="{{ unsubscribe_url }}">unsubscribe</a>',
      },
    }, auth);
    const { campaign } = await client.createCampaign({
      campaign: {
        name: "welcome",
        templateId: template!.id,
        audience: { source: { case: "tags", value: { tagIds: [parent], includeDescendants: true } } },
        ratePerSecond: 100,
      },
    }, auth);
    assert.equal(campaign!.state, CampaignState.DRAFT);

    await t.step("launch now: Ada and Bob get one mail each, Eve (unverified) is skipped", async () => {
      await client.launchCampaign({ id: campaign!.id }, auth);
      await eventually(
        "the run completes",
        async () =>
          (await client.getCampaign({ id: campaign!.id }, auth)).campaign!.state ===
            CampaignState.COMPLETED || undefined,
      );
      const { campaign: done } = await client.getCampaign({ id: campaign!.id }, auth);
      assert.equal(done!.stats!.sent, 2n);
      assert.equal(done!.stats!.skipped, 1n);
      assert.deepEqual(bench.received().sort(), ["ada@example.test", "bob@example.test"]);
      const { deliveries } = await client.listDeliveries({ campaignId: campaign!.id }, auth);
      const eveRow = deliveries.find((d) => d.email === "eve@example.test")!;
      assert.equal(eveRow.state, DeliveryState.SKIPPED);
      assert.equal(eveRow.skipReason, "unverified");
      const sent = deliveries.filter((d) => d.state === DeliveryState.SENT).map((d) => d.email).sort();
      assert.deepEqual(sent, bench.received().sort());
      const mail = decodeQuotedPrintable(bench.sink.received[0].raw);
      const row = deliveries.find((d) => bench.sink.received[0].to.includes(d.email))!;
      assert.match(
        mail,
        new RegExp(`Message-ID:\\s+${row.messageId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "i"),
      );
      assert.match(mail, /List-Unsubscribe:\s+<http:\/\/members\.example\.test\/unsubscribe\?token=[\w.-]+>/);
      assert.match(mail, /List-Unsubscribe-Post: List-Unsubscribe=One-Click/);
      // The mail carries the signed link, a secret: the task only refers to the sealed mail.
      const payloads = await bench.server.db.sql<{ payload: string }[]>`
        select convert_from(payload, 'UTF8') as payload from tasks where labels ->> 'source' = 'campaign'`;
      assert.equal(payloads.length, 2);
      for (const { payload } of payloads) assert.match(payload, /^\{"\$sealed":"[0-9a-f-]{36}"\}$/);
    });

    await t.step("a one-click POST with curl unsubscribes Bob; the next run skips him", async () => {
      const bobMail = decodeQuotedPrintable(
        bench.sink.received.find((m) => m.to.includes("bob@example.test"))!.raw,
      );
      const token = bobMail.match(/unsubscribe\?token=([\w.-]+)/)![1];
      const local = `${bench.server.url}/unsubscribe?token=${token}`;
      for (let i = 0; i < 2; i++) {
        const out = await new Deno.Command("curl", {
          args: [
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-d",
            "List-Unsubscribe=One-Click",
            local,
          ],
        }).output();
        assert.equal(new TextDecoder().decode(out.stdout), "200", "the one-click POST is idempotent");
      }
      const tampered = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
      const bad = await fetch(`${bench.server.url}/unsubscribe?token=${tampered}`, { method: "POST" });
      assert.equal(bad.status, 400);
      assert.doesNotMatch(await bad.text(), /bob/);
      const page = await fetch(local);
      assert.equal(page.status, 200);
      // A GET only shows a page that asks first: the web app's when it is built (server/web/pages.ts,
      // SHARED_PAGE_PATHS), else the server's plain one.
      assert.match(await page.text(), /<form method="post"|<div id="root">/);

      await client.startCampaignRun({ campaignId: campaign!.id }, auth);
      await eventually(
        "the run completes",
        async () =>
          (await client.getCampaign({ id: campaign!.id }, auth)).campaign!.state ===
            CampaignState.COMPLETED || undefined,
      );
      const { deliveries } = await client.listDeliveries({ campaignId: campaign!.id }, auth);
      const bobRow = deliveries.find((d) => d.email === "bob@example.test")!;
      assert.equal(bobRow.state, DeliveryState.SKIPPED);
      assert.equal(bobRow.skipReason, "unsubscribed");
      assert.equal(bench.received().filter((r) => r === "ada@example.test").length, 2);
      assert.equal(bench.received().filter((r) => r === "bob@example.test").length, 1);
    });
  } finally {
    await bench.close();
  }
});
