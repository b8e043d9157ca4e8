/**
 * The campaign mail pages in a real browser, against a real server sending real
 * campaigns to a loopback SMTP sink through the emails queue: the unsubscribe link of
 * a mail opens the web page, one click unsubscribes (the next campaign skips the
 * member), undo subscribes again (the next one reaches them); the one-click POST stays
 * on the server's route. A signed-in member sees the daily challenges they received,
 * and only theirs.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Browser } from "playwright-core";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { CampaignService, CampaignState, DeliveryState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { decodeQuotedPrintable, type SmtpSink, startSmtpSink } from "../mail/testing.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import { ensureWebBuild } from "../server/web/build.ts";
import { type MailWorker, startMailWorker } from "./_support/mail_worker.ts";
import { bearer } from "./_support/raw_worker.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";
import { eventually } from "./_support/until.ts";
import { freePort, launchBrowser, screenshot, uniqueEmail, within } from "./_support/web.ts";

const FROM = "taskmesh <no-reply@example.com>";
const PASSWORD = "a long member passphrase";

interface Bed {
  server: TestServer;
  sink: SmtpSink;
  mailer: MailWorker;
  url: string;
  campaigns: ReturnType<typeof createClient<typeof CampaignService>>;
  admin: ReturnType<typeof bearer>;
  member(email: string): Promise<string>;
  /** Sends a campaign of `templateId` to `emails` now; resolves when it completed. */
  send(
    name: string,
    templateId: string,
    audience: { tagIds?: string[]; emails?: string[] },
    content?: boolean,
  ): Promise<string>;
  close(): Promise<void>;
}

async function startBed(): Promise<Bed> {
  await ensureWebBuild();
  const sink = await startSmtpSink();
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startTestServer({
    redis: true,
    env: { TASKMESH_PORT: String(port), TASKMESH_PUBLIC_URL: url, TASKMESH_MAIL_FROM: FROM },
  });
  const mailer = await startMailWorker(server, {
    mail: { smtpUrl: sink.url, from: FROM, outboxDir: "/nonexistent" },
    concurrency: 4,
  });
  const admin = bearer(mailer.admin!);
  const campaigns = createClient(CampaignService, server.connectH2());
  return {
    server,
    sink,
    mailer,
    url,
    campaigns,
    admin,
    async member(email) {
      const id = crypto.randomUUID();
      const now = new Date();
      await insertUser(server.deps.sql, {
        id,
        email,
        displayName: email.split("@")[0],
        passwordHash: await hashPassword(PASSWORD),
        role: "member",
        verifiedAt: now,
        now,
      });
      return id;
    },
    async send(name, templateId, audience, content = false) {
      const { campaign } = await campaigns.createCampaign({
        campaign: {
          name,
          templateId,
          audience: audience.tagIds
            ? { source: { case: "tags", value: { tagIds: audience.tagIds, includeDescendants: true } } }
            : { source: { case: "explicit", value: { emails: audience.emails! } } },
          content: { enabled: content },
          ratePerSecond: 100,
        },
      }, admin);
      await campaigns.launchCampaign({ id: campaign!.id }, admin);
      await eventually(
        "the campaign completes",
        async () =>
          (await campaigns.getCampaign({ id: campaign!.id }, admin)).campaign!.state ===
            CampaignState.COMPLETED || undefined,
      );
      return campaign!.id;
    },
    async close() {
      await mailer.stop();
      await server.close();
      await sink.close();
    },
  };
}

/** The unsubscribe link of the latest mail to `email`. */
async function unsubscribeLink(bed: Bed, email: string): Promise<string> {
  const mail = await within(15_000, `a mail to ${email}`, bed.sink.waitFor((m) => m.to.includes(email)));
  const link = decodeQuotedPrintable(mail.raw).match(/http:\/\/127\.0\.0\.1:\d+\/unsubscribe\?token=[\w.-]+/);
  assert.ok(link, `no unsubscribe link in the mail to ${email}`);
  return link[0];
}

async function deliveryOf(bed: Bed, campaignId: string, email: string) {
  const { deliveries } = await bed.campaigns.listDeliveries({ campaignId }, bed.admin);
  return deliveries.find((d) => d.email === email)!;
}

Deno.test("web: campaign mail pages", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const bed = await startBed();
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const page = await context.newPage();
    const tags = createClient(TagService, bed.server.connectH2());
    const rust = (await tags.createTag({ name: "Rust", type: TagType.LANGUAGE }, bed.admin)).tag!.id;
    const ann = uniqueEmail("ann");
    const bob = uniqueEmail("bob");
    for (const email of [ann, bob]) {
      await bed.member(email);
      const { tokens } = await createClient(AuthService, bed.server.connect()).login({
        email,
        password: PASSWORD,
      });
      await tags.subscribe({ tagId: rust }, bearer(tokens!.accessToken));
    }
    const { template } = await bed.campaigns.createTemplate({
      template: {
        name: "daily",
        subject: "Today: {{ item.title }}",
        htmlBody:
          '<h1>{{ item.title }}</h1>{{ item.html }}<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
      },
    }, bed.admin);
    const { template: plain } = await bed.campaigns.createTemplate({
      template: {
        name: "news",
        subject: "News",
        htmlBody: '<p>News</p><a href="{{ unsubscribe_url }}">u</a>',
      },
    }, bed.admin);
    const { created } = await bed.campaigns.importContentItems({
      items: ["Borrow checker", "Lifetimes"].map((title, i) => ({
        key: `rust-${i}`,
        title,
        bodyMarkdown: `Solve **${title.toLowerCase()}** in under 30 lines.`,
        tagIds: [rust],
        metadata: { difficulty: i === 0 ? "easy" : "medium" },
      })),
    }, bed.admin);
    assert.equal(created, 2);
    const daily = await bed.send("Daily challenge", template!.id, { tagIds: [rust] }, true);
    const mine = async (email: string) => (await deliveryOf(bed, daily, email)).contentItemId;
    assert.notEqual(await mine(ann), "");

    await t.step("Unsubscribe through the link: open it, confirm, unsubscribed; undo works", async () => {
      const link = await unsubscribeLink(bed, ann);
      await page.goto(link);
      await page.getByRole("heading", { name: "Unsubscribe" }).waitFor();
      // The token leaves the address bar; opening the page alone unsubscribes no one.
      assert.equal(new URL(page.url()).search, "");
      await screenshot(page, "unsubscribe");
      const before = await bed.send("Before", plain!.id, { emails: [ann] });
      assert.equal((await deliveryOf(bed, before, ann)).state, DeliveryState.SENT);

      await page.getByRole("button", { name: "Unsubscribe" }).click();
      await page.getByTestId("notice").getByText(`${ann} will receive no more campaign emails.`).waitFor();
      await screenshot(page, "unsubscribed");
      const after = await bed.send("After", plain!.id, { emails: [ann] });
      const skipped = await deliveryOf(bed, after, ann);
      assert.equal(skipped.state, DeliveryState.SKIPPED);
      assert.equal(skipped.skipReason, "unsubscribed");

      await page.getByRole("button", { name: "Undo: keep receiving them" }).click();
      await page.getByTestId("notice").getByText(`${ann} is subscribed again`).waitFor();
      await screenshot(page, "unsubscribe-undone");
      const again = await bed.send("Again", plain!.id, { emails: [ann] });
      assert.equal((await deliveryOf(bed, again, ann)).state, DeliveryState.SENT);
    });

    await t.step("a tampered link is refused on the page, saying nothing of the address", async () => {
      const link = await unsubscribeLink(bed, bob);
      await page.goto(link.replace(/token=(\w)/, (_, c) => `token=${c === "A" ? "B" : "A"}`));
      await page.getByRole("button", { name: "Unsubscribe" }).click();
      const refusal = await page.getByTestId("form-error").innerText();
      assert.match(refusal, /not valid or has expired/);
      assert.doesNotMatch(refusal, new RegExp(bob.split("@")[0]));
    });

    await t.step("GET of the link is the web page; the one-click POST stays on the server", async () => {
      const link = await unsubscribeLink(bed, bob);
      const got = await fetch(link);
      assert.match(got.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.match(await got.text(), /<div id="root">/);
      const posted = await fetch(link, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
      assert.equal(posted.status, 200);
      assert.match(await posted.text(), new RegExp(`${bob.replace(/[.]/g, "\\.")} will receive no more`));
      const { resubscribed } = await bed.campaigns.resubscribeByToken({
        token: new URL(link).searchParams.get("token")!,
      });
      assert.equal(resubscribed, true);
    });

    await t.step("a member sees the daily challenges they received, and only theirs", async () => {
      await page.goto(`${bed.url}/login?next=/challenges`);
      await page.getByLabel("Email").fill(ann);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("link", { name: "Challenges" }).click();
      await page.getByRole("heading", { name: "Your challenges" }).waitFor();
      const list = page.getByTestId("challenge");
      await list.first().waitFor();
      const items = await bed.campaigns.listContentItems({}, bed.admin);
      const title = (id: string) => items.items.find((i) => i.id === id)!.title;
      const annItem = title(await mine(ann));
      // Her "Daily challenge" mail carried a challenge; the other campaigns carried none.
      const first = list.filter({ hasText: annItem });
      assert.equal(await first.count(), 1);
      assert.match(await first.innerText(), /Daily challenge · (easy|medium)/);
      await first.getByText("Read the challenge").click();
      assert.match(await first.locator(".challenge-body").innerHTML(), /<strong>/);
      await screenshot(page, "challenges");
      // Ann received 3 mails (daily, before, again): newest first; Bob's rows are not hers.
      assert.equal(await list.count(), 3);
      const { tokens } = await createClient(AuthService, bed.server.connect()).login({
        email: bob,
        password: PASSWORD,
      });
      const bobs = await bed.campaigns.listMyDeliveries({}, bearer(tokens!.accessToken));
      assert.deepEqual(bobs.deliveries.map((d) => d.campaignName), ["Daily challenge"]);
      assert.equal(bobs.deliveries[0].item?.title, title(await mine(bob)));
    });
  } finally {
    await browser?.close();
    await bed.close();
  }
});

Deno.test("ListMyDeliveries: only signed-in people; a page token is bound to its owner", async () => {
  const bed = await startBed();
  try {
    const auth = createClient(AuthService, bed.server.connect());
    const { template } = await bed.campaigns.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: '<a href="{{ unsubscribe_url }}">u</a>' },
    }, bed.admin);
    const cy = uniqueEmail("cy");
    const di = uniqueEmail("di");
    await bed.member(cy);
    await bed.member(di);
    for (const name of ["one", "two", "three"]) await bed.send(name, template!.id, { emails: [cy, di] });
    const as = async (email: string) =>
      bearer((await auth.login({ email, password: PASSWORD })).tokens!.accessToken);
    const first = await bed.campaigns.listMyDeliveries({ pageSize: 2 }, await as(cy));
    assert.deepEqual(first.deliveries.map((d) => d.campaignName), ["three", "two"]);
    const rest = await bed.campaigns.listMyDeliveries(
      { pageSize: 2, pageToken: first.nextPageToken },
      await as(cy),
    );
    assert.deepEqual(rest.deliveries.map((d) => d.campaignName), ["one"]);
    assert.equal(rest.nextPageToken, "");
    const stolen = await bed.campaigns.listMyDeliveries(
      { pageSize: 2, pageToken: first.nextPageToken },
      await as(di),
    )
      .then(() => undefined, (e) => ConnectError.from(e).code);
    assert.equal(stolen, Code.InvalidArgument);
    const { secret } = await auth.createApiKey({ name: "reader", scopes: ["campaigns:read"] }, bed.admin);
    const key = await bed.campaigns.listMyDeliveries({}, bearer(secret)).then(
      () => undefined,
      (e) => ConnectError.from(e).code,
    );
    assert.equal(key, Code.PermissionDenied);
    const anonymous = await bed.campaigns.listMyDeliveries({}).then(
      () => undefined,
      (e) => ConnectError.from(e).code,
    );
    assert.equal(anonymous, Code.Unauthenticated);
  } finally {
    await bed.close();
  }
});
