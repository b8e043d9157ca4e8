/**
 * `deno task bench:campaign`: one campaign to 100,000 recipients, end to end, on this
 * machine. The real server process (`server/main.ts`, Postgres + Redis) resolves a tag
 * audience, materialises the ledger and fans out `email.send` tasks on the `emails`
 * queue; the real worker process (`worker/main.ts`) sends them over SMTP to a sink in a
 * third process (npm smtp-server, bench/campaign/smtp_sink.ts). Reported: mails per
 * second, the server's and the worker's CPU and RSS (peak, and growth over the run),
 * the time from LaunchCampaign to the first mail in the sink, and a check that the
 * ledger's sent count, the sink's count and the audience agree.
 *
 * Flags: --recipients=N (100000) · --rate=R mails/s (2000: above the 1,000 target, so the machine and not the limit sets the pace; the contract allows 10,000) ·
 * --campaign-concurrency=N sends in flight (500, the maximum) · --worker-concurrency=N
 * (200) · --no-smtp-pool (a connection per mail, SMTP_URL ?pool=false; by default the worker pools) ·
 * --heartbeat-ms=N (the server's TASKMESH_WORKER_HEARTBEAT_MS; leases live twice that) ·
 * --server-max-heap-mb=N (V8's max-old-space-size for the server: is its growth garbage not yet collected?) ·
 * The server and the worker run with the V8 flags of deno.json's `server` and `worker` tasks, as deployed ·
 * --v8-defaults (without them: V8's own heap settings) ·
 * --server-v8-flags=F (more V8 flags for the server, comma-separated, after the product's, e.g. --trace-gc) ·
 * --worker-v8-flags=F (the same for the worker) ·
 * --worker-log=PATH (the same for the worker's) ·
 * --server-log=PATH (keep the server's stdout and stderr there; by default they go with the run) ·
 * --server-cpu-prof=DIR, --worker-cpu-prof=DIR (that process runs under --cpu-prof) ·
 * --quick (10,000 recipients, nothing written) · --no-write.
 * Env: BENCH_ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
 * database is made for the run and dropped after it), BENCH_TASKMESH_REDIS_URL (default
 * redis://127.0.0.1:6379/13; FLUSHED first, so give it a database nobody else uses).
 * Results: bench/results/campaign.md and campaign.json.
 */
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { CampaignService, CampaignState } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TagService, TagType } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { WorkerService, WorkerState } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { createAdmin } from "../../server/auth/first_admin.ts";
import { systemClock } from "../../server/clock.ts";
import { connectPostgres, type Sql } from "../../server/db/postgres.ts";
import { flagValue, hasFlag } from "../rpc/_flags.ts";
import {
  freePort,
  startServer,
  stopServer,
  waitUntilReady,
  waitUntilServing,
} from "../rpc/_server_process.ts";
import { spawnChild, stopChild } from "../queue/_child.ts";
import { createDatabase, dropDatabase } from "../queue/_taskmesh.ts";
import { productV8Flags, v8FlagArgs } from "../_launch_flags.ts";
import { watchProc } from "./_proc.ts";
import { type CampaignFigures, writeReport } from "./_report.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const QUICK = hasFlag(Deno.args, "quick");
const num = (name: string, fallback: number) => Number(flagValue(Deno.args, name) ?? fallback);
const P = {
  recipients: num("recipients", QUICK ? 10_000 : 100_000),
  rate: num("rate", 2000),
  campaignConcurrency: num("campaign-concurrency", 500),
  workerConcurrency: num("worker-concurrency", 200),
  smtpPool: !hasFlag(Deno.args, "no-smtp-pool"),
  heartbeatMs: flagValue(Deno.args, "heartbeat-ms"),
  serverMaxHeapMb: flagValue(Deno.args, "server-max-heap-mb"),
  serverV8Flags: flagValue(Deno.args, "server-v8-flags"),
  serverLog: flagValue(Deno.args, "server-log"),
  workerV8Flags: flagValue(Deno.args, "worker-v8-flags"),
  /** V8's own settings instead of the product's launch flags (deno.json's server and worker tasks). */
  v8Defaults: hasFlag(Deno.args, "v8-defaults"),
  serverProductV8Flags: productV8Flags("server"),
  workerProductV8Flags: productV8Flags("worker"),
  workerLog: flagValue(Deno.args, "worker-log"),
  serverCpuProf: flagValue(Deno.args, "server-cpu-prof"),
  workerCpuProf: flagValue(Deno.args, "worker-cpu-prof"),
  write: !QUICK && !hasFlag(Deno.args, "no-write"),
  adminDatabaseUrl: Deno.env.get("BENCH_ADMIN_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
  redisUrl: Deno.env.get("BENCH_TASKMESH_REDIS_URL") ?? "redis://127.0.0.1:6379/13",
};
/** `deno run` flags writing a V8 CPU profile into `dir` on exit (bench/queue/cpuprofile_summary.ts reads it). */
const cpuProf = (dir: string | undefined) => dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
const FROM = "taskmesh bench <bench@mail.example.test>";

/** Waits for the sink's line that `pick` accepts. */
function sinkLine<T>(
  sink: ReturnType<typeof spawnChild>,
  pick: (line: Record<string, number>) => T | undefined,
) {
  return new Promise<T>((resolve, reject) => {
    const off = sink.onLine((line) => {
      let parsed: Record<string, number>;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      const value = pick(parsed);
      if (value !== undefined) {
        off();
        resolve(value);
      }
    });
    sink.exited.then((code) => reject(new Error(`the SMTP sink exited (${code}):\n${sink.tail()}`)));
  });
}

async function credentials(sql: Sql, transport: Transport) {
  const email = `bench-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  await createAdmin({ sql, clock: systemClock }, { email, password });
  const auth = createClient(AuthService, transport);
  const admin = { authorization: `Bearer ${(await auth.login({ email, password })).tokens!.accessToken}` };
  const worker = await auth.createApiKey({ name: "bench worker", scopes: ["worker"] }, { headers: admin });
  const manager = await auth.createApiKey(
    { name: "bench campaigns", scopes: ["campaigns:read", "campaigns:manage"] },
    { headers: admin },
  );
  return { admin, workerKey: worker.secret, campaigns: { authorization: `Bearer ${manager.secret}` } };
}

/** `n` verified members subscribed to `tagId`, written in one statement each. */
async function makeAudience(sql: Sql, tagId: string, n: number): Promise<void> {
  await sql`
    insert into users (id, email, display_name, password_hash, role, email_verified_at, created_at)
    select gen_random_uuid(), 'member' || i || '@bench.example.test', 'Member ' || i, 'x', 'member', now(), now()
    from generate_series(1, ${n}) as i`;
  await sql`
    insert into tag_subscriptions (user_id, tag_id, created_at)
    select id::text, ${tagId}, now() from users where email like '%@bench.example.test'`;
}

async function main(): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "campaign-bench-" });
  const redis = new Redis(P.redisUrl, { lazyConnect: true });
  await redis.connect();
  await redis.flushdb();
  redis.disconnect();
  const sink = spawnChild("smtp sink", ["deno", "run", "-A", `${ROOT}bench/campaign/smtp_sink.ts`], {});
  // Listened for at once: the child does not keep lines, and making the database may take longer.
  const listening = sinkLine(sink, (l) => l.listening);
  const databaseUrl = await createDatabase(P.adminDatabaseUrl, "taskmesh_campaign_bench");
  const cleanup: (() => Promise<unknown>)[] = [
    () => stopChild(sink, 2000),
    () => dropDatabase(P.adminDatabaseUrl, databaseUrl),
  ];
  try {
    const sinkPort = await listening;
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = await startServer({
      name: "taskmesh server",
      port,
      command: [
        "deno",
        "run",
        "-A",
        ...v8FlagArgs(
          "server",
          [P.serverMaxHeapMb && `--max-old-space-size=${P.serverMaxHeapMb}`, P.serverV8Flags],
          P.v8Defaults,
        ),
        ...cpuProf(P.serverCpuProf),
        `${ROOT}server/main.ts`,
      ],
      env: {
        DATABASE_URL: databaseUrl,
        REDIS_URL: P.redisUrl,
        TASKMESH_HOST: "127.0.0.1",
        TASKMESH_PORT: String(port),
        TASKMESH_PUBLIC_URL: url,
        TASKMESH_MAIL_FROM: FROM,
        TASKMESH_LOG_LEVEL: "warn",
        TASKMESH_DATA_DIR: `${tmp}/data`,
        ...(P.heartbeatMs ? { TASKMESH_WORKER_HEARTBEAT_MS: P.heartbeatMs } : {}),
      },
      logFile: P.serverLog ?? `${tmp}/server.log`,
    });
    cleanup.unshift(() => stopServer(server));
    const transport = createGrpcTransport({ baseUrl: url });
    await waitUntilServing(server, transport);
    const sql = connectPostgres(databaseUrl, { max: 2 });
    cleanup.unshift(() => sql.end());
    const keys = await credentials(sql, transport);

    const smtpUrl = `smtp://127.0.0.1:${sinkPort}${P.smtpPool ? "" : "?pool=false"}`;
    const worker = spawnChild("taskmesh worker", [
      "deno",
      "run",
      "-A",
      ...v8FlagArgs("worker", [P.workerV8Flags], P.v8Defaults),
      ...cpuProf(P.workerCpuProf),
      `${ROOT}worker/main.ts`,
      `--url=${url}`,
      "--queues=emails",
      `--concurrency=${P.workerConcurrency}`,
      "--worker-id=bench-mailer",
      "--log-level=warn",
    ], { TASKMESH_API_KEY: keys.workerKey, SMTP_URL: smtpUrl, TASKMESH_MAIL_FROM: FROM });
    cleanup.unshift(() => stopChild(worker, 10_000));
    if (P.workerLog) {
      const log = await Deno.open(P.workerLog, { write: true, create: true, truncate: true });
      const encoder = new TextEncoder();
      worker.onLine((line) => log.writeSync(encoder.encode(line + "\n")));
      cleanup.push(() => Promise.resolve(log.close()));
    }
    const workers = createClient(WorkerService, transport);
    await waitUntilReady(server, async () => {
      if (worker.exitCode !== undefined) throw new Error(`the worker exited:\n${worker.tail()}`);
      const { workers: list } = await workers.listWorkers({ queue: "emails" }, { headers: keys.admin });
      return list.some((w) => w.id === "bench-mailer" && w.state === WorkerState.ACTIVE);
    }, 60_000);

    const tags = createClient(TagService, transport);
    const { tag } = await tags.createTag({ name: "Bench", type: TagType.TOPIC }, { headers: keys.admin });
    const audienceStart = performance.now();
    await makeAudience(sql, tag!.id, P.recipients);
    const audienceMs = performance.now() - audienceStart;
    const campaigns = createClient(CampaignService, transport);
    const auth = { headers: keys.campaigns };
    const { template } = await campaigns.createTemplate({
      template: {
        name: "bench",
        subject: "Hello {{ recipient.name }}",
        htmlBody:
          '<p>Hello {{ recipient.name }}, today\'s news.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
      },
    }, auth);
    const { campaign } = await campaigns.createCampaign({
      campaign: {
        name: "bench",
        templateId: template!.id,
        audience: { source: { case: "tags", value: { tagIds: [tag!.id], includeDescendants: true } } },
        ratePerSecond: P.rate,
        maxConcurrency: P.campaignConcurrency,
        maxErrorRate: 1,
      },
    }, auth);

    console.error(`audience of ${P.recipients} ready in ${Math.round(audienceMs)} ms; launching`);
    const serverProc = watchProc(server.child.pid);
    const workerProc = watchProc(worker.pid);
    const sinkProc = watchProc(sink.pid);
    const firstMail = sinkLine(sink, (l) => l.first);
    let sunk = { count: 0, last: 0 };
    const offCount = sink.onLine((line) => {
      if (line.startsWith('{"count"')) sunk = JSON.parse(line);
    });
    const loadAtLaunch = Deno.loadavg()[0];
    const launchedAt = Date.now();
    await campaigns.launchCampaign({ id: campaign!.id }, auth);
    const first = await Promise.race([
      firstMail,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`no mail reached the sink within 60 s; the worker says:\n${worker.tail()}`)),
          60_000,
        )
      ),
    ]);
    const deadline = Date.now() + 120_000 + (P.recipients / Math.min(P.rate, 100)) * 1000;
    let state = CampaignState.SENDING;
    let lastLog = 0;
    // Polled once a second: the figures come from the sink's lines and the ledger.
    while (Date.now() < deadline) {
      const got = (await campaigns.getCampaign({ id: campaign!.id }, auth)).campaign!;
      state = got.state;
      if (state === CampaignState.COMPLETED && sunk.count >= Number(got.stats!.sent)) break;
      if (state === CampaignState.PAUSED || state === CampaignState.CANCELLED) {
        throw new Error(`the campaign stopped: ${CampaignState[state]} ${got.pauseReason}`);
      }
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        // Where the mails wait: the ledger (pending, claimed) or the task queue (queued, running).
        const tasks = await sql<{ state: string; n: number }[]>`
          select state, count(*)::int as n from tasks where type = 'email.send' and state in ('queued', 'running', 'scheduled')
          group by state`;
        console.error(
          `  ${sunk.count} mails in the sink · ledger ${got.stats?.sent} sent, ${got.stats?.pending} pending, ${got.stats?.sending} claimed · tasks ${
            tasks.map((t) => `${t.n} ${t.state}`).join(", ") || "none waiting"
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const server_ = serverProc.stop();
    const worker_ = workerProc.stop();
    const sink_ = sinkProc.stop();
    const [ledger] = await sql<{ sent: number; failed: number; skipped: number; total: number }[]>`
      select count(*) filter (where state = 'sent')::int as sent,
        count(*) filter (where state = 'failed')::int as failed,
        count(*) filter (where state = 'skipped')::int as skipped, count(*)::int as total
      from campaign_deliveries where campaign_id = ${campaign!.id}`;
    // A mail the sink got twice comes from an email.send attempt that did not end as succeeded.
    const retries = await sql<{ outcome: string; error: string; n: number }[]>`
      select coalesce(a.outcome, 'running') as outcome, coalesce(a.error ->> 'message', '') as error,
        count(*)::int as n
      from task_attempts a join tasks t on t.id = a.task_id
      where t.type = 'email.send' and a.outcome is distinct from 'succeeded'
      group by 1, 2 order by n desc limit 5`;
    // Stopping the sink makes it print its final count and the time of its last mail.
    await stopChild(sink, 2000);
    offCount();
    const sinkCount = sunk.count;
    const figures: CampaignFigures = {
      parameters: { ...P, adminDatabaseUrl: undefined, redisUrl: undefined },
      completed: state === CampaignState.COMPLETED,
      recipients: P.recipients,
      ledger,
      sinkCount,
      launchToFirstMs: first - launchedAt,
      launchToLastMs: sunk.last - launchedAt,
      firstToLastMs: sunk.last - first,
      mailsPerSecond: sinkCount / Math.max(0.001, (sunk.last - first) / 1000),
      mailsPerSecondFromLaunch: sinkCount / Math.max(0.001, (sunk.last - launchedAt) / 1000),
      server: server_,
      worker: worker_,
      sink: sink_,
      audienceMs,
      loadAverage: { atLaunch: loadAtLaunch, atEnd: Deno.loadavg()[0] },
      unsuccessfulAttempts: retries,
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      date: new Date().toISOString(),
    };
    console.log(JSON.stringify(figures, null, 2));
    if (P.write) await writeReport(figures, new URL("../results/", import.meta.url));
  } finally {
    for (const step of cleanup) await step().catch((e) => console.error(`cleanup: ${e}`));
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
