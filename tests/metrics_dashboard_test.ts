/**
 * The committed Grafana dashboard against real data: Debian's Prometheus, started on
 * loopback, scrapes two server instances of one deployment while a known workload runs
 * on both; then every PromQL query of deploy/grafana/dashboards/taskmesh.json is asked
 * of Prometheus's HTTP API as Grafana would, and must return the series the workload
 * implies. Gauges and quantiles are exact (the servers share a manual clock); rates are
 * the workload's count over the window, within Prometheus's extrapolation. Queue-wide
 * gauges summed over both instances count each queue once (only the reporter reports).
 * Each half also runs a campaign whose mails (queue `emails`) the raw mail worker sends
 * or refuses with a 5xx, with an address or two skipped at launch.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { CampaignService, CampaignState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { type PrometheusServer, type Sample, startPrometheus } from "./_support/prometheus.ts";
import { bearer, credentials, openRawWorker, type RawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";
import { eventually } from "./_support/until.ts";

const DASHBOARD = new URL("../deploy/grafana/dashboards/taskmesh.json", import.meta.url);
const RATE_WINDOW = "$__rate_interval";
/**
 * Prometheus extrapolates an increase from the first and last samples in the window to its
 * edges, so it reads between the true count and count × window / sampled span: never
 * less (beyond float error), more by up to a late scrape's share of the window.
 */
const RATE_SLACK = { under: 0.99, over: 1.5 };

type Expect = (byLabels: Map<string, number>, windowS: number) => void;

/** Series keyed by their labels (`queue=mail,state=dead`; "" for a bare sum). */
function keyed(samples: Sample[]): Map<string, number> {
  return new Map(samples.map((s) => [
    Object.entries(s.metric).sort().map(([k, v]) => `${k}=${v}`).join(","),
    s.value,
  ]));
}

/** Exactly these series with exactly these values. */
const exact = (want: Record<string, number>): Expect => (got) =>
  assert.deepEqual(Object.fromEntries([...got].map(([k, v]) => [k, Number(v.toFixed(9))])), want);

/** These series, each `count` events over the window as an increase, or as a rate (0 stays exactly 0). */
function overWindow(counts: Record<string, number>, asRate: boolean): Expect {
  return (got, windowS) => {
    assert.deepEqual([...got.keys()].sort(), Object.keys(counts).sort());
    for (const [key, count] of Object.entries(counts)) {
      const want = asRate ? count / windowS : count;
      const value = got.get(key)!;
      if (want === 0) assert.equal(value, 0, key);
      else {
        assert.ok(
          value >= want * RATE_SLACK.under && value <= want * RATE_SLACK.over,
          `${key}: ${value}, want ${want} (as Prometheus extrapolates it)`,
        );
      }
    }
  };
}
const rates = (counts: Record<string, number>) => overWindow(counts, true);
const increases = (counts: Record<string, number>) => overWindow(counts, false);

/** One series (a latency from a real store) with a positive, finite value. */
const positive: Expect = (got) => {
  assert.deepEqual([...got.keys()], [""]);
  const value = got.get("")!;
  assert.ok(Number.isFinite(value) && value > 0, `got ${value}`);
};

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("every query of the committed dashboard returns the workload's series", opts, async () => {
  const clock = new ManualClock(Date.now());
  const a = await startTestServer({ redis: true, clock });
  const b = await startTestServer({ redis: true, clock, peerOf: a });
  const workers: RawWorker[] = [];
  let prometheus: PrometheusServer | undefined;
  try {
    const { admin, workerKey } = await credentials(a);
    const as = bearer(admin);
    const tasksA = createClient(TaskService, a.connect());
    const tasksB = createClient(TaskService, b.connect());
    const authA = createClient(AuthService, a.connect());
    const hello = async (server: typeof a, id: string, queues: string[], concurrency: number) => {
      const w = openRawWorker(server.grpc(), workerKey);
      workers.push(w);
      w.send({ case: "hello", value: { workerId: id, queues, concurrency, version: "t" } });
      await w.nextOf("welcome");
      return w;
    };
    const mailWorker = await hello(a, "mail-worker", ["mail", "emails"], 8);
    const reportWorker = await hello(b, "report-worker", ["reports"], 4);
    const hosts = [a, b].map((s) => new URL(s.url).host);
    prometheus = await startPrometheus(hosts, 250);
    const p = prometheus;
    const value = async (q: string) => (await p.query(q))[0]?.value;

    /**
     * Runs `outcomes` (true: success, false: a permanent error) in a queue paused while they
     * are enqueued: each waits exactly 2 s for its start and runs exactly 0.3 s.
     */
    const batch = async (
      tasks: typeof tasksA,
      worker: RawWorker,
      queue: string,
      outcomes: boolean[],
    ) => {
      await tasks.pauseQueue({ queue }, as);
      for (const _ of outcomes) await tasks.enqueue({ task: { queue, type: "work", maxAttempts: 1 } }, as);
      clock.advance(2_000);
      await tasks.resumeQueue({ queue }, as);
      const assigns = [];
      for (const _ of outcomes) assigns.push(await worker.nextOf("assign"));
      clock.advance(300);
      assigns.forEach((assign, i) =>
        worker.send({
          case: "result",
          value: {
            taskId: assign.task!.id,
            leaseId: assign.leaseId,
            outcome: outcomes[i]
              ? { case: "output", value: new Uint8Array() }
              : { case: "error", value: { message: "no", code: "bad", retryable: false } },
          },
        })
      );
      for (const _ of outcomes) await worker.nextOf("resultAck");
    };
    const campaignsA = createClient(CampaignService, a.connect());
    const { template } = await campaignsA.createTemplate({
      template: { name: "t", subject: "Hi", htmlBody: "<p>Hi</p>" },
    }, as);
    /**
     * A campaign to new verified members, one mail each (true: accepted, false: a 5xx), and
     * to `skipped` addresses that are no members: its mails wait 2 s and run 0.3 s, as a batch.
     */
    const campaign = async (outcomes: boolean[], skipped: number) => {
      const tag = crypto.randomUUID().slice(0, 8);
      const members = outcomes.map((_, i) => `m${i}-${tag}@example.test`);
      for (const email of members) {
        await a.db.sql`
          insert into users (id, email, display_name, password_hash, role, email_verified_at, created_at)
          values (${crypto.randomUUID()}, ${email}, 'm', 'x', 'member', ${new Date(clock.now())},
            ${new Date(clock.now())})`;
      }
      const strangers = Array.from({ length: skipped }, (_, i) => `s${i}-${tag}@example.test`);
      const { campaign: c } = await campaignsA.createCampaign({
        campaign: {
          name: `c-${tag}`,
          templateId: template!.id,
          audience: { source: { case: "explicit", value: { emails: [...members, ...strangers] } } },
          ratePerSecond: 1000,
          maxErrorRate: 1,
        },
      }, as);
      await tasksA.pauseQueue({ queue: "emails" }, as);
      await campaignsA.launchCampaign({ id: c!.id }, as);
      await eventually("the campaign's mails are handed over", async () => {
        const stats = (await campaignsA.getCampaign({ id: c!.id }, as)).campaign!.stats!;
        return stats.sending === BigInt(outcomes.length) || undefined;
      });
      clock.advance(2_000);
      await tasksA.resumeQueue({ queue: "emails" }, as);
      const assigns = [];
      for (const _ of outcomes) assigns.push(await mailWorker.nextOf("assign"));
      clock.advance(300);
      assigns.forEach((assign, i) =>
        mailWorker.send({
          case: "result",
          value: {
            taskId: assign.task!.id,
            leaseId: assign.leaseId,
            outcome: outcomes[i]
              ? { case: "output", value: new Uint8Array() }
              : { case: "error", value: { message: "550 no such user", code: "smtp_550", retryable: false } },
          },
        })
      );
      for (const _ of outcomes) await mailWorker.nextOf("resultAck");
      await eventually("the campaign completes", async () => {
        const state = (await campaignsA.getCampaign({ id: c!.id }, as)).campaign!.state;
        return state === CampaignState.COMPLETED || undefined;
      });
    };
    const failLogin = () =>
      authA.login({ email: "nobody@example.com", password: "not the password" }).catch(() => {});

    // Half one: every series the dashboard reads exists before the window the rates cover.
    const idleSince = clock.now();
    await tasksA.enqueue({ task: { queue: "idle", type: "work" } }, as);
    await batch(tasksA, mailWorker, "mail", [true, false]);
    await batch(tasksB, reportWorker, "reports", [true, false]);
    await campaign([true, false], 1);
    await failLogin();
    const seen = await eventually("Prometheus scrapes half one", async () => {
      const [ok, skipped] = await Promise.all([
        value("sum(taskmesh_tasks_succeeded_total)"),
        value('sum(taskmesh_campaign_mails_total{outcome="skipped"})'),
      ]);
      return ok === 3 && skipped === 1 ? Date.now() / 1000 : undefined;
    });
    // Flat samples after half one, so the window starts after its changes.
    await eventually("four more seconds of scrapes", async () => {
      return (await value('min(timestamp(up{job="taskmesh"}))') ?? 0) > seen + 4 || undefined;
    });

    // Half two: what the rates measure.
    const started = Date.now() / 1000;
    await batch(tasksA, mailWorker, "mail", [true, true, true, true, false, false]);
    await batch(tasksB, reportWorker, "reports", [true, true]);
    await campaign([true, true, false], 2);
    for (let i = 0; i < 2; i++) await tasksA.enqueue({ task: { queue: "idle", type: "work" } }, as);
    await failLogin();
    for (const w of [mailWorker, reportWorker]) w.send({ case: "heartbeat", value: { leases: [] } });
    const done = await eventually("Prometheus scrapes half two", async () => {
      const [ok, beats, skipped] = await Promise.all([
        value("sum(taskmesh_tasks_succeeded_total)"),
        value("sum(taskmesh_worker_heartbeats_total)"),
        value('sum(taskmesh_campaign_mails_total{outcome="skipped"})'),
      ]);
      return ok === 11 && beats === 2 && skipped === 3 ? Date.now() / 1000 : undefined;
    });
    await eventually("two more seconds of scrapes", async () => {
      return (await value('min(timestamp(up{job="taskmesh"}))') ?? 0) > done + 2 || undefined;
    });
    const at = Date.now() / 1000;
    // From 2–3 s before half two (after half one's last change) to now.
    const windowS = Math.ceil(at - started) + 2;
    const idleAge = (clock.now() - idleSince) / 1000;

    const states = (dead: number, queued = 0) => ({ waiting: 0, scheduled: 0, queued, running: 0, dead });
    const depth: Record<string, number> = {};
    const queues = { mail: states(3), reports: states(1), idle: states(0, 3), emails: states(2) };
    for (const [queue, s] of Object.entries(queues)) {
      for (const [state, n] of Object.entries(s)) depth[`queue=${queue},state=${state}`] = n;
    }
    const expected: Record<string, Expect> = {
      'count(up{job="taskmesh"} == 1)': exact({ "": 2 }),
      "sum(taskmesh_metrics_reporter)": exact({ "": 1 }),
      "sum(taskmesh_workers_connected)": exact({ "": 2 }),
      "sum(increase(taskmesh_broker_rebuilds_total[$__rate_interval]))": exact({ "": 0 }),
      "sum by (queue, state) (taskmesh_queue_tasks)": exact(depth),
      "max by (queue) (taskmesh_queue_oldest_queued_age_seconds)": exact({
        "queue=idle": idleAge,
        "queue=mail": 0,
        "queue=reports": 0,
        "queue=emails": 0,
      }),
      "sum by (queue) (rate(taskmesh_tasks_enqueued_total[$__rate_interval]))": rates({
        "queue=mail": 6,
        "queue=reports": 2,
        "queue=idle": 2,
        "queue=emails": 3,
      }),
      "sum by (queue) (rate(taskmesh_tasks_succeeded_total[$__rate_interval]))": rates({
        "queue=mail": 4,
        "queue=reports": 2,
        "queue=emails": 2,
      }),
      "sum by (queue) (rate(taskmesh_tasks_failed_total[$__rate_interval]))": rates({
        "queue=mail": 2,
        "queue=reports": 0,
        "queue=emails": 1,
      }),
      // Every run took 0.3 s and every wait 2 s: one bucket each, interpolated within it.
      "histogram_quantile(0.95, sum by (queue, le) (rate(taskmesh_task_run_duration_seconds_bucket[$__rate_interval])))":
        exact({ "queue=mail": 0.4875, "queue=reports": 0.4875, "queue=emails": 0.4875 }),
      "histogram_quantile(0.95, sum by (queue, le) (rate(taskmesh_task_start_delay_seconds_bucket[$__rate_interval])))":
        exact({ "queue=mail": 2.425, "queue=reports": 2.425, "queue=emails": 2.425 }),
      "histogram_quantile(0.99, sum by (le) (rate(taskmesh_rpc_duration_seconds_bucket[$__rate_interval])))":
        positive,
      "sum by (state) (taskmesh_worker_slots)": exact({ "state=busy": 0, "state=free": 12 }),
      "sum(rate(taskmesh_worker_heartbeats_total[$__rate_interval]))": rates({ "": 2 }),
      'sum by (queue) (taskmesh_queue_tasks{state="dead"})': exact({
        "queue=mail": 3,
        "queue=reports": 1,
        "queue=idle": 0,
        "queue=emails": 2,
      }),
      "sum by (queue) (increase(taskmesh_tasks_dead_total[$__rate_interval]))": increases({
        "queue=mail": 2,
        "queue=reports": 0,
        "queue=emails": 1,
      }),
      "sum by (outcome) (increase(taskmesh_campaign_mails_total[$__rate_interval]))": increases({
        "outcome=sent": 2,
        "outcome=failed": 1,
        "outcome=skipped": 2,
      }),
      'sum by (code) (rate(taskmesh_rpc_total{code!="ok"}[$__rate_interval]))': rates({
        "code=unauthenticated": 1,
      }),
      "sum by (outcome) (rate(taskmesh_auth_logins_total[$__rate_interval]))": rates({
        "outcome=failure": 1,
        "outcome=success": 0,
      }),
      "histogram_quantile(0.99, sum by (le) (rate(taskmesh_redis_command_duration_seconds_bucket[$__rate_interval])))":
        positive,
      "max(taskmesh_postgres_pool_query_seconds)": positive,
    };

    const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD));
    const queries: string[] = dashboard.panels.flatMap((panel: { targets?: { expr: string }[] }) =>
      (panel.targets ?? []).map((t) => t.expr)
    );
    assert.deepEqual(
      [...queries].sort(),
      Object.keys(expected).sort(),
      "an expectation for every dashboard query",
    );
    for (const query of queries) {
      const promql = query.replaceAll(RATE_WINDOW, `${windowS}s`);
      const series = keyed(await p.query(promql, at));
      try {
        expected[query](series, windowS);
      } catch (error) {
        throw new Error(`${query} (window ${windowS}s): ${(error as Error).message}`);
      }
    }
  } finally {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.ended));
    await prometheus?.stop();
    await b.close();
    await a.close();
  }
});
