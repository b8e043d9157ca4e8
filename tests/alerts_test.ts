/**
 * Alerts that reach someone, on a manual clock: every kind of rule fires and resolves,
 * each notification is a task the workers deliver — mails to a real SMTP sink on
 * loopback through `email.send`, calls to a webhook receiver on loopback that fails
 * twice before accepting, through `webhook.post` with its retries. A flapping condition
 * inside the silence window is neither notified nor resolved again; past the window it
 * is. The evaluation lease lets one instance at a time evaluate.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { AlertKind, AlertService } from "../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { startSmtpSink } from "../mail/testing.ts";
import { ManualClock } from "../server/clock.ts";
import { redisLease } from "../server/alerts/lease.ts";
import type { AutoPausedCampaign } from "../server/alerts/model.ts";
import { createAlertsRuntime } from "../server/alerts/runtime.ts";
import { connectRedis } from "../server/redis/connection.ts";
import { createMemoryLogger as serverLogger } from "../server/log.ts";
import { tasksOf } from "../server/runtimes.ts";
import { emailSend, webhookPost } from "../worker/handlers/mod.ts";
import { createMemoryLogger, createWorker, PermanentError } from "../worker/mod.ts";
import { bearer, credentials } from "./_support/raw_worker.ts";
import { startTestServer, TEST_REDIS_URL } from "./_support/server.ts";
import { eventually } from "./_support/until.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const HOUR = 3600_000;

/** A webhook receiver that answers 503 to its first `failures` calls, then accepts and keeps each body. */
function startWebhookReceiver(failures: number) {
  let calls = 0;
  const accepted: { status: string; rule: { name: string } }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    if (++calls <= failures) return new Response("not now", { status: 503 });
    accepted.push(body);
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    accepted,
    calls: () => calls,
    stop: () => server.shutdown(),
  };
}

function startWorker(
  url: string,
  apiKey: string,
  queues: string[],
  handlers: Parameters<typeof createWorker>[0]["handlers"],
) {
  const log = createMemoryLogger("info");
  const worker = createWorker({
    url,
    apiKey,
    queues,
    concurrency: 4,
    workerId: queues.join("+"),
    handlers,
    log,
  });
  const running = worker.start();
  return {
    connected: log.waitFor("connected"),
    async stop() {
      await worker.stop();
      await running;
    },
  };
}

Deno.test(
  "every alert rule fires and resolves, delivered by mail and by webhook, once per silence window",
  opts,
  async () => {
    const clock = new ManualClock(Date.now());
    const server = await startTestServer({ clock, env: { TASKMESH_ALERTS_INTERVAL_MS: "0" } });
    const sink = await startSmtpSink();
    const hook = startWebhookReceiver(2);
    const stops: (() => Promise<void>)[] = [];
    try {
      const { admin, workerKey } = await credentials(server);
      // Tokens expire on the manual clock, which moves hours here; a key does not.
      const { secret } = await createClient(AuthService, server.connect()).createApiKey(
        { name: "ops", scopes: ["tasks:read", "tasks:enqueue", "tasks:manage"] },
        bearer(admin),
      );
      const ops = bearer(secret);
      const alerts = createClient(AlertService, server.connect());
      const tasks = createClient(TaskService, server.connect());
      const mail = { smtpUrl: sink.url, from: "taskmesh <alerts@example.com>", outboxDir: "" };
      const notifier = startWorker(server.url, workerKey, ["emails", "alerts"], {
        "email.send": emailSend({ mail }),
        "webhook.post": webhookPost,
      });
      stops.push(notifier.stop);
      const flaky = startWorker(server.url, workerKey, ["flaky"], {
        boom: () => {
          throw new PermanentError("boom", { code: "boom" });
        },
      });
      stops.push(flaky.stop);
      await Promise.all([notifier.connected, flaky.connected]);

      const rule = async (name: string, kind: AlertKind, more: Record<string, unknown>) =>
        (await alerts.createAlertRule(
          { rule: { name, kind, silence: durationFromMs(HOUR), ...more } },
          bearer(admin),
        ))
          .rule!;
      const email = { emailTo: "ops@example.com" };
      const webhook = { webhookUrl: hook.url };
      await rule("jobs wait", AlertKind.OLDEST_QUEUED_AGE, { queue: "jobs", threshold: 60, ...email });
      await rule("jobs unserved", AlertKind.NO_WORKER, { queue: "jobs", ...webhook });
      await rule("flaky dead", AlertKind.DEAD_LETTERS_GROWING, {
        queue: "flaky",
        window: durationFromMs(60_000),
        ...email,
      });
      await rule("flaky errors", AlertKind.ERROR_RATE, { queue: "flaky", threshold: 0.5, ...webhook });
      await rule("campaign paused", AlertKind.CAMPAIGN_AUTO_PAUSED, email);

      let paused: AutoPausedCampaign[] = [];
      const evaluator = createAlertsRuntime(server.deps, tasksOf(server.app.runtimes), {
        autoPaused: () => Promise.resolve(paused),
      });
      const evaluate = async () =>
        (await evaluator.evaluate())!.notifications.map((n) => `${n.status} ${n.rule.name}`);
      const mailed = (subject: string) =>
        sink.waitFor((m) => m.raw.includes(`Subject: [taskmesh] ${subject}`));
      /** Webhook retries wait their backoff on the manual clock: move it a second per look. */
      const hooked = (count: number) =>
        eventually(`${count} webhook calls accepted`, () => {
          clock.advance(1000);
          return hook.accepted.length >= count ? hook.accepted.slice() : undefined;
        }, { timeoutMs: 30_000 });

      // Nothing holds yet: the first pass only takes the dead-letter baseline.
      assert.deepEqual(await evaluate(), []);

      // Work nobody serves, waiting a minute; a task that fails for good; a campaign paused.
      const { task: job } = await tasks.enqueue({ task: { queue: "jobs", type: "noop" } }, ops);
      clock.advance(61_000);
      const { task: doomed } = await tasks.enqueue(
        { task: { queue: "flaky", type: "boom", maxAttempts: 1 } },
        ops,
      );
      await eventually("the flaky task is dead", async () => {
        const t = (await tasks.getTask({ id: doomed!.id }, ops)).task!;
        return t.state === TaskState.DEAD ? t : undefined;
      });
      paused = [{ id: "c1", name: "spring sale", reason: "bounce rate 12%" }];
      assert.deepEqual((await evaluate()).sort(), [
        "firing campaign paused",
        "firing flaky dead",
        "firing flaky errors",
        "firing jobs unserved",
        "firing jobs wait",
      ]);
      // Still firing: nothing new. (Checked before the webhook retries move the clock, which would
      // take the failed attempt out of the error rate's one-minute window.)
      assert.deepEqual(await evaluate(), []);
      const firingMail = await mailed("FIRING: jobs wait");
      assert.match(firingMail.raw, /oldest task in jobs waited 61 s/);
      await mailed("FIRING: flaky dead");
      assert.match((await mailed("FIRING: campaign paused")).raw, /spring sale \(bounce rate 12%\)/);
      const firingHooks = await hooked(2);
      assert.equal(hook.calls(), 4, "two refused calls, then both accepted on retry");
      assert.deepEqual(firingHooks.map((b) => `${b.status} ${b.rule.name}`).sort(), [
        "firing flaky errors",
        "firing jobs unserved",
      ]);
      const firing = (await alerts.listFiringAlerts({}, ops)).alerts;
      assert.equal(firing.length, 5);
      assert.ok(firing.every((a) => a.notified));

      // Every condition clears: one "resolved" each.
      await tasks.cancelTask({ id: job!.id }, ops);
      paused = [];
      clock.advance(61_000);
      assert.deepEqual((await evaluate()).sort(), [
        "resolved campaign paused",
        "resolved flaky dead",
        "resolved flaky errors",
        "resolved jobs unserved",
        "resolved jobs wait",
      ]);
      await mailed("RESOLVED: jobs wait");
      await mailed("RESOLVED: flaky dead");
      await mailed("RESOLVED: campaign paused");
      const resolvedHooks = (await hooked(4)).slice(2).map((b) => `${b.status} ${b.rule.name}`).sort();
      assert.deepEqual(resolvedHooks, ["resolved flaky errors", "resolved jobs unserved"]);
      assert.deepEqual((await alerts.listFiringAlerts({}, ops)).alerts, []);

      // Flapping inside the silence window: fires again, silently, and resolves silently.
      const { task: again } = await tasks.enqueue({ task: { queue: "jobs", type: "noop" } }, ops);
      assert.deepEqual(await evaluate(), []);
      const silent = (await alerts.listFiringAlerts({}, ops)).alerts;
      assert.deepEqual(silent.map((a) => [a.ruleName, a.notified]), [["jobs unserved", false]]);
      await tasks.cancelTask({ id: again!.id }, ops);
      assert.deepEqual(await evaluate(), []);
      const sent = await tasks.listTasks({ labels: { source: "alerts" }, pageSize: 100 }, ops);
      assert.equal(sent.tasks.length, 10, "five firings and five resolutions, no duplicate");
      // The webhook URL may carry the receiver's secret: its calls are sealed, so no reader of
      // tasks sees it, though the receiver got every call.
      const host = new URL(hook.url).host;
      const calls = sent.tasks.filter((t) => t.spec?.type === "webhook.post");
      assert.equal(calls.length, 4, "two rules by webhook, each firing and resolved");
      for (const t of calls) {
        assert.ok(
          !new TextDecoder().decode(t.spec!.payload).includes(host),
          "the webhook URL is not in the payload",
        );
      }

      // Past the silence window, the same condition is notified again.
      clock.advance(HOUR);
      await tasks.enqueue({ task: { queue: "jobs", type: "noop" } }, ops);
      assert.deepEqual(await evaluate(), ["firing jobs unserved"]);
    } finally {
      for (const stop of stops) await stop();
      await hook.stop();
      await sink.close();
      await server.close();
    }
  },
);

Deno.test("one instance at a time holds the evaluation lease", opts, async () => {
  const redis = connectRedis(TEST_REDIS_URL, {
    log: serverLogger("error"),
    keyPrefix: `test:${crypto.randomUUID().slice(0, 8)}:`,
  });
  try {
    const a = redisLease(redis, "alerts_lease", "instance-a", 60_000);
    const b = redisLease(redis, "alerts_lease", "instance-b", 60_000);
    assert.equal(await a.hold(), true);
    assert.equal(await b.hold(), false, "another instance holds it");
    assert.equal(await a.hold(), true, "its holder renews it");
    await b.release();
    assert.equal(await b.hold(), false, "only the holder gives it up");
    await a.release();
    assert.equal(await b.hold(), true, "free again, the other takes it");
    await b.release();
  } finally {
    redis.disconnect();
  }
});

Deno.test("two instances on one Redis: only the lease holder evaluates", opts, async () => {
  const a = await startTestServer({ redis: true, env: { TASKMESH_ALERTS_INTERVAL_MS: "0" } });
  const b = await startTestServer({ redis: true, peerOf: a, env: { TASKMESH_ALERTS_INTERVAL_MS: "0" } });
  try {
    const onA = createAlertsRuntime(a.deps, tasksOf(a.app.runtimes));
    const onB = createAlertsRuntime(b.deps, tasksOf(b.app.runtimes));
    assert.ok(await onA.evaluate(), "the first to ask takes the lease and evaluates");
    assert.equal(await onB.evaluate(), undefined, "the other one does not");
    assert.ok(await onA.evaluate(), "the holder goes on");
    await onA.lease.release();
    assert.ok(await onB.evaluate(), "once given up (a stopping instance), the other takes over");
    assert.equal(await onA.evaluate(), undefined);
    await onB.lease.release();
  } finally {
    await b.close();
    await a.close();
  }
});
