/**
 * Crash safety of a 10,000-recipient campaign, with a real server process, real worker
 * processes sending to a real SMTP sink, Postgres and a private Redis. In one run the
 * worker is SIGKILLed at three random points (a new one takes over each time); in the
 * other the server is SIGKILLed and restarted. Afterwards: the sink has every recipient
 * at least once; duplicates are at most the sends in flight at the kills (the worker's
 * concurrency, also the campaign's limit; twice that for a server, whose uncommitted results
 * count too) and are printed; and the ledger's sent set is
 * exactly the set of addresses the sink received.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { CampaignService, CampaignState } from "../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { startSmtpSink } from "../mail/testing.ts";
import { systemClock } from "../server/clock.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { type ServerProcess, startServerProcess } from "./_support/process.ts";
import { bearer, credentialsOn } from "./_support/raw_worker.ts";
import { freePort, startRedisServer } from "./_support/redis_server.ts";
import { eventually } from "./_support/until.ts";

const RECIPIENTS = Number(Deno.env.get("CAMPAIGN_CRASH_RECIPIENTS") ?? 10_000);
const CONCURRENCY = 50;
const WORKER = new URL("../worker/main.ts", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

function spawnWorker(url: string, apiKey: string, smtpUrl: string, id: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      WORKER,
      `--url=${url}`,
      "--queues=emails",
      `--concurrency=${CONCURRENCY}`,
      `--worker-id=${id}`,
    ],
    env: { TASKMESH_API_KEY: apiKey, TASKMESH_LOG_LEVEL: "warn", SMTP_URL: smtpUrl },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function crashRun(kill: "worker" | "server"): Promise<void> {
  const sink = await startSmtpSink();
  const redis = await startRedisServer();
  const db = await createTestDatabase();
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    TASKMESH_PORT: String(freePort()),
    TASKMESH_DATA_DIR: await Deno.makeTempDir({ prefix: "taskmesh-campaign-crash-" }),
    // Leases of 4 s: on a busy machine a heartbeat can be late by more than the default 2 s,
    // and a lease lost that way would be a duplicate the kill did not cause.
    TASKMESH_WORKER_HEARTBEAT_MS: "2000",
    TASKMESH_TASKS_TICK_MS: "100",
  };
  let server: ServerProcess = await startServerProcess(env);
  const workers: Deno.ChildProcess[] = [];
  try {
    const transport = createGrpcTransport({ baseUrl: server.url });
    const { admin, workerKey } = await credentialsOn({ sql: db.sql, clock: systemClock }, transport);
    const { secret } = await createClient(AuthService, transport).createApiKey(
      { name: "campaigns", scopes: ["campaigns:read", "campaigns:manage"] },
      bearer(admin),
    );
    const { tag } = await createClient(TagService, transport).createTag(
      { name: "Everyone", type: TagType.TOPIC },
      bearer(admin),
    );
    await db.sql`
      with u as (
        insert into users (id, email, display_name, password_hash, role, email_verified_at, created_at)
        select gen_random_uuid(), 'r' || i || '@example.test', 'R' || i, 'x', 'member', now(), now()
        from generate_series(1, ${RECIPIENTS}) i returning id
      )
      insert into tag_subscriptions (user_id, tag_id, created_at) select id::text, ${tag!.id}, now() from u`;

    const campaigns = () => createClient(CampaignService, createGrpcTransport({ baseUrl: server.url }));
    const auth = bearer(secret);
    const { template } = await campaigns().createTemplate({
      template: {
        name: "crash",
        subject: "Hi {{ recipient.name }}",
        htmlBody: "<p>{{ recipient.email }}</p>",
      },
    }, auth);
    const { campaign } = await campaigns().createCampaign({
      campaign: {
        name: "ten thousand",
        templateId: template!.id,
        audience: { source: { case: "tags", value: { tagIds: [tag!.id], includeDescendants: false } } },
        ratePerSecond: 1000,
        maxConcurrency: CONCURRENCY,
      },
    }, auth);
    workers.push(spawnWorker(server.url, workerKey, sink.url, "w0"));
    await campaigns().launchCampaign({ id: campaign!.id }, auth);

    const points = kill === "worker"
      ? [0.15, 0.45, 0.75].map((f) => Math.floor(RECIPIENTS * (f + Math.random() * 0.1)))
      : [Math.floor(RECIPIENTS * (0.3 + Math.random() * 0.3))];
    for (const [i, point] of points.entries()) {
      await eventually(
        `${point} mails received (${sink.received.length} so far)`,
        () => sink.received.length >= point || undefined,
        {
          timeoutMs: Number(Deno.env.get("CAMPAIGN_CRASH_WAIT_MS") ?? 180_000),
          everyMs: 20,
        },
      );
      if (kill === "worker") {
        workers[workers.length - 1].kill("SIGKILL");
        await workers[workers.length - 1].status;
        workers.push(spawnWorker(server.url, workerKey, sink.url, `w${i + 1}`));
      } else {
        server.child.kill("SIGKILL");
        await server.exited;
        server = await startServerProcess(env);
      }
      console.log(`${kill} SIGKILLed after ${sink.received.length} mails`);
    }
    await eventually("the campaign completes", async () => {
      const c = (await campaigns().getCampaign({ id: campaign!.id }, auth)).campaign!;
      return c.state === CampaignState.COMPLETED ? c : undefined;
    }, { timeoutMs: 240_000, everyMs: 500 });

    const received = sink.received.flatMap((m) => m.to);
    const unique = new Set(received);
    const duplicates = received.length - unique.size;
    console.log(
      `${kill} kills: ${received.length} mails for ${unique.size} recipients, ${duplicates} duplicates`,
    );
    assert.equal(unique.size, RECIPIENTS, "every recipient received the mail");
    // What may run again (docs/ARCHITECTURE.md, "Delivery: at least once, completed once"): a dead
    // worker's running sends (≤ its concurrency); under a dead server every live lease, which is the
    // running sends and the results the worker sent that were not committed yet (≤ 2 × concurrency).
    const inFlight = kill === "worker" ? CONCURRENCY : 2 * CONCURRENCY;
    assert.ok(duplicates <= inFlight * points.length, `${duplicates} duplicates`);
    const sent = await db.sql<
      { email: string }[]
    >`select email from campaign_deliveries where state = 'sent'`;
    assert.deepEqual(new Set(sent.map((r) => r.email)), unique, "the ledger's sent set is the sink's set");
  } catch (error) {
    console.error(
      await db.sql`select state, skip_reason, count(*)::int from campaign_deliveries group by 1, 2`,
    );
    console.error(await db.sql`select state, count(*)::int, max(last_error::text) from tasks group by 1`);
    console.error(server.lines.slice(-10));
    throw error;
  } finally {
    for (const w of workers) {
      try {
        w.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await Promise.all(workers.map((w) => w.status));
    try {
      server.child.kill("SIGKILL");
    } catch { /* gone */ }
    await server.exited;
    await db.drop();
    await redis.stop();
    await sink.close();
  }
}

Deno.test(
  "10,000 recipients, the worker SIGKILLed three times: all sent, ledger = sink",
  opts,
  () => crashRun("worker"),
);

Deno.test(
  "10,000 recipients, the server SIGKILLed and restarted: all sent, ledger = sink",
  opts,
  () => crashRun("server"),
);
