/**
 * AlertService's contract: a bad rule is INVALID_ARGUMENT naming its field, rules page
 * in creation order, deleting an unknown rule is NOT_FOUND, and only admins manage rules
 * while viewers read them.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { AlertKind, AlertService } from "../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { AuthService, Role } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { createAdmin } from "../server/auth/first_admin.ts";
import { bearer, credentials } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

const base = {
  name: "backlog",
  kind: AlertKind.OLDEST_QUEUED_AGE,
  queue: "emails",
  threshold: 300,
  emailTo: "ops@example.com",
};

Deno.test("AlertService validates, pages and guards its rules", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const server = await startTestServer();
  try {
    const { admin } = await credentials(server);
    const alerts = createClient(AlertService, server.connect());
    const as = bearer(admin);

    await t.step("a bad rule names its field", async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ kind: AlertKind.UNSPECIFIED }, /^rule\.kind/],
        [{ name: " " }, /^rule\.name/],
        [{ name: "x".repeat(101) }, /^rule\.name/],
        [{ queue: "" }, /^rule\.queue is required/],
        [{ queue: "Bad Queue" }, /^rule\.queue/],
        [{ kind: AlertKind.CAMPAIGN_AUTO_PAUSED, threshold: 0 }, /^rule\.queue is not used/],
        [{ threshold: 0 }, /^rule\.threshold/],
        [{ kind: AlertKind.ERROR_RATE, threshold: 1.5 }, /^rule\.threshold is 1\.5/],
        [{ kind: AlertKind.NO_WORKER }, /^rule\.threshold is not used/],
        [{ emailTo: "" }, /^rule\.email_to or rule\.webhook_url/],
        [{ webhookUrl: "https://hooks.example.com/x" }, /^rule\.email_to or rule\.webhook_url/],
        [{ emailTo: "", webhookUrl: "ftp://hooks.example.com/x" }, /^rule\.webhook_url uses ftp:/],
        [{ emailTo: "not an address" }, /^rule\.email_to/],
        [{ window: durationFromMs(120_000) }, /^rule\.window is for DEAD_LETTERS_GROWING/],
        [{ silence: durationFromMs(8 * 86_400_000) }, /^rule\.silence/],
      ];
      for (const [change, field] of cases) {
        const error = await alerts.createAlertRule({ rule: { ...base, ...change } }, as).then(
          () => undefined,
          (e) => e,
        );
        assert.ok(error instanceof ConnectError, `accepted: ${field}`);
        assert.equal(error.code, Code.InvalidArgument, error.message);
        assert.match(error.rawMessage, field);
      }
    });

    await t.step("rules page in creation order, with their defaults", async () => {
      for (let i = 0; i < 3; i++) await alerts.createAlertRule({ rule: { ...base, name: `rule ${i}` } }, as);
      const first = await alerts.listAlertRules({ pageSize: 2 }, as);
      const second = await alerts.listAlertRules({ pageSize: 2, pageToken: first.nextPageToken }, as);
      assert.deepEqual([...first.rules, ...second.rules].map((r) => r.name), ["rule 0", "rule 1", "rule 2"]);
      assert.equal(second.nextPageToken, "");
      assert.equal(Number(first.rules[0].silence!.seconds), 900, "silence defaults to 15m");
      const dead = await alerts.createAlertRule({
        rule: { ...base, kind: AlertKind.DEAD_LETTERS_GROWING, threshold: 0, name: "dead" },
      }, as);
      assert.equal(dead.rule!.threshold, 1);
      assert.equal(Number(dead.rule!.window!.seconds), 300, "window defaults to 5m");
    });

    await t.step("deleting an unknown rule is NOT_FOUND; a known one goes", async () => {
      await assert.rejects(
        alerts.deleteAlertRule({ id: crypto.randomUUID() }, as),
        (e) => e instanceof ConnectError && e.code === Code.NotFound,
      );
      const { rules } = await alerts.listAlertRules({}, as);
      await alerts.deleteAlertRule({ id: rules[0].id }, as);
      assert.equal((await alerts.listAlertRules({}, as)).rules.length, rules.length - 1);
    });

    await t.step("a viewer reads rules and firing alerts but cannot create one", async () => {
      const email = `viewer-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const password = "correct horse battery staple";
      const row = await createAdmin(server.deps, { email, password });
      const auth = createClient(AuthService, server.connect());
      await auth.setRole({ userId: row.id, role: Role.VIEWER }, as);
      const viewer = bearer((await auth.login({ email, password })).tokens!.accessToken);
      assert.ok((await alerts.listAlertRules({}, viewer)).rules.length > 0);
      // A webhook URL's path may be its receiver's secret: only admins see it whole.
      const secretUrl = "https://hooks.example.com/services/T0/B0/s3cr3t-token";
      const { rule: hooked } = await alerts.createAlertRule(
        { rule: { ...base, emailTo: "", webhookUrl: secretUrl } },
        as,
      );
      const shown = (rules: { id: string; webhookUrl: string }[]) =>
        rules.find((r) => r.id === hooked!.id)!.webhookUrl;
      assert.equal(
        shown((await alerts.listAlertRules({ pageSize: 100 }, viewer)).rules),
        "https://hooks.example.com/…",
      );
      assert.equal(shown((await alerts.listAlertRules({ pageSize: 100 }, as)).rules), secretUrl);
      assert.deepEqual((await alerts.listFiringAlerts({}, viewer)).alerts, []);
      await assert.rejects(
        alerts.createAlertRule({ rule: base }, viewer),
        (e) => e instanceof ConnectError && e.code === Code.PermissionDenied,
      );
    });
  } finally {
    await server.close();
  }
});
