/**
 * Steering a campaign over RPC: pause leaves the rest pending and resume continues from
 * the ledger (every recipient exactly once); cancel skips what was not sent; a launch at
 * a time waits for it; WatchCampaign streams the figures to the end; a syntax error is
 * INVALID_ARGUMENT with the line; PreviewTemplate renders a sample; ListDeliveries pages.
 */
import assert from "node:assert/strict";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { CampaignState, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { startCampaignBench } from "./_support/campaigns.ts";
import { eventually } from "./_support/until.ts";

const explicit = (emails: string[]) => ({ source: { case: "explicit" as const, value: { emails } } });

Deno.test("pause, resume, cancel, launch at a time, watch, preview", async (t) => {
  const bench = await startCampaignBench({ concurrency: 4 });
  const { client, auth } = bench;
  try {
    const emails = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, "0")}@example.test`);
    for (const e of emails) await bench.member(e);

    await t.step("a syntax error names the field, line and column; preview renders a sample", async () => {
      const error = await client.createTemplate({
        template: { name: "bad", subject: "ok", htmlBody: "<p>one</p>\n{% for x in xs %}never closed" },
      }, auth).catch((e) => e);
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /^template\.html_body has a syntax error at line 2, column 1/);
      const preview = await client.previewTemplate({
        source: {
          case: "template",
          value: {
            name: "p",
            subject: "{{ item.title }} for {{ recipient.name }}",
            htmlBody: "<b>{{ recipient.email }}</b>",
          },
        },
        variablesJson: '{"recipient":{"name":"Grace","email":"grace@example.test"}}',
      }, auth);
      assert.equal(preview.subject, "A sample challenge for Grace");
      assert.equal(preview.htmlBody, "<b>grace@example.test</b>");
      assert.equal(preview.textBody, "grace@example.test", "the text comes from the HTML");
    });

    const { template } = await client.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi {{ recipient.email }}</p>" },
    }, auth);
    const create = async (name: string, extra: Record<string, unknown> = {}) =>
      (await client.createCampaign({
        campaign: { name, templateId: template!.id, audience: explicit(emails), ratePerSecond: 10, ...extra },
      }, auth)).campaign!;

    await t.step("pause leaves the rest pending; resume continues from the ledger", async () => {
      const c = await create("paced", { maxConcurrency: 2 });
      const watch = (async () => {
        const seen = [];
        for await (const m of client.watchCampaign({ id: c.id }, auth)) {
          seen.push(m);
          if (m.campaign!.state === CampaignState.COMPLETED) break;
        }
        return seen;
      })();
      await client.launchCampaign({ id: c.id }, auth);
      await eventually("a few mails go out", () => bench.received().length >= 3 || undefined);
      const paused = (await client.pauseCampaign({ id: c.id }, auth)).campaign!;
      assert.equal(paused.state, CampaignState.PAUSED);
      assert.equal(paused.pauseReason, "paused by an operator");
      const settled = await eventually("in-flight mails finish", async () => {
        const now = (await client.getCampaign({ id: c.id }, auth)).campaign!;
        return now.stats!.sending === 0n ? now : undefined;
      });
      assert.ok(settled.stats!.pending > 0n, "some are still pending");
      // Sets: a lease lost on a loaded machine may send a mail twice (at least once), never skip one.
      assert.equal(BigInt(new Set(bench.received()).size), settled.stats!.sent);
      // Suppression is checked again when a delivery is claimed: one still pending unsubscribes now.
      const { deliveries: waiting } = await client.listDeliveries(
        { campaignId: c.id, state: DeliveryState.PENDING },
        auth,
      );
      const leaver = waiting[waiting.length - 1].email;
      const token = await bench.campaigns.handlerDeps.signer.sign(leaver, Date.now());
      assert.equal(
        (await client.unsubscribeByToken({ token })).email,
        leaver,
        "UnsubscribeByToken needs no login",
      );
      await client.resumeCampaign({ id: c.id }, auth);
      const seen = await watch;
      const last = seen[seen.length - 1];
      assert.equal(last.campaign!.stats!.sent, 29n);
      assert.equal(last.campaign!.stats!.skipped, 1n);
      assert.ok(seen.some((m) => m.campaign!.state === CampaignState.PAUSED), "the stream showed the pause");
      assert.ok(seen.some((m) => m.ratePerSecond > 0 && m.etaSeconds > 0n), "rate and ETA while sending");
      assert.deepEqual([...new Set(bench.received())].sort(), emails.filter((e) => e !== leaver), "each one");
      const { deliveries: skipped } = await client.listDeliveries(
        { campaignId: c.id, state: DeliveryState.SKIPPED },
        auth,
      );
      assert.deepEqual(skipped.map((d) => [d.email, d.skipReason]), [[leaver, "unsubscribed"]]);

      const page1 = await client.listDeliveries({ campaignId: c.id, pageSize: 20 }, auth);
      const page2 = await client.listDeliveries({
        campaignId: c.id,
        pageSize: 20,
        pageToken: page1.nextPageToken,
      }, auth);
      assert.deepEqual([...page1.deliveries, ...page2.deliveries].map((d) => d.email), emails);
      assert.equal(page2.nextPageToken, "");
    });

    await t.step("a tampered or made-up token is refused alike, naming no address", async () => {
      const good = await bench.campaigns.handlerDeps.signer.sign("p01@example.test", Date.now());
      const tampered = good.slice(0, -3) + (good.endsWith("AAA") ? "BBB" : "AAA");
      const forged = await bench.campaigns.handlerDeps.signer.sign("nobody@nowhere.test", Date.now());
      const answers = [];
      for (const token of [tampered, forged.split(".")[0] + "." + good.split(".")[1], "x.y"]) {
        const error = await client.unsubscribeByToken({ token }).catch((e) => e);
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.InvalidArgument);
        answers.push(error.rawMessage);
      }
      assert.equal(new Set(answers).size, 1, "one answer for every refusal");
      assert.doesNotMatch(answers[0], /p01|nobody/);
    });

    await t.step("cancel while sending: unsent deliveries are skipped, never sent", async () => {
      /** The recipients of this run's mails, told by the Message-ID made from run and address. */
      const ofRun = (runId: string) =>
        new Set(bench.sink.received.filter((m) => m.raw.includes(runId)).flatMap((m) => m.to));
      const c = await create("cancelled", { ratePerSecond: 5, maxConcurrency: 2 });
      await client.launchCampaign({ id: c.id }, auth);
      const runId = (await eventually("the run starts", async () =>
        (await client.getCampaign({ id: c.id }, auth)).campaign!.currentRun?.id))!;
      await eventually("one mail goes out", () =>
        ofRun(runId).size > 0 || undefined);
      assert.equal(
        (await client.cancelCampaign({ id: c.id }, auth)).campaign!.state,
        CampaignState.CANCELLED,
      );
      const done = await eventually("nothing is left in flight", async () => {
        const now = (await client.getCampaign({ id: c.id }, auth)).campaign!;
        return now.stats!.pending === 0n ? now : undefined;
      });
      assert.ok(done.stats!.skipped > 0n);
      assert.equal(done.stats!.sent + done.stats!.skipped, 30n, "the unsubscribed member is skipped too");
      assert.equal(BigInt(ofRun(runId).size), done.stats!.sent);
      const { deliveries } = await client.listDeliveries(
        { campaignId: c.id, state: DeliveryState.SKIPPED },
        auth,
      );
      assert.ok(deliveries.every((d) =>
        ["cancelled", "unsubscribed"].includes(d.skipReason)
      ));
    });

    await t.step("launch at a time: scheduled until then (moved by an update), then sent", async () => {
      const c = await create("later", {
        ratePerSecond: 1000,
        schedule: { when: { case: "at", value: timestampFromMs(Date.now() + 3_600_000) } },
      });
      const launched = (await client.launchCampaign({ id: c.id }, auth)).campaign!;
      assert.equal(launched.state, CampaignState.SCHEDULED);
      const at = Date.now() + 1500;
      const moved = (await client.updateCampaign({
        id: c.id,
        schedule: { when: { case: "at", value: timestampFromMs(at) } },
      }, auth)).campaign!;
      assert.equal(moved.state, CampaignState.SCHEDULED);
      assert.equal(Number(moved.nextRunTime!.seconds), Math.floor(at / 1000));
      const done = await eventually("it sends at its time", async () => {
        const now = (await client.getCampaign({ id: c.id }, auth)).campaign!;
        return now.state === CampaignState.COMPLETED ? now : undefined;
      });
      assert.ok(Date.now() >= at);
      assert.equal(done.stats!.sent, 29n);
    });
  } finally {
    await bench.close();
  }
});
