/**
 * Chaos under load, with real processes: 10,000 tasks, two worker processes, and in the
 * middle of the run either the server is SIGKILLed and restarted, or its Redis loses
 * everything (FLUSHALL). The handler records every execution in a table of the test's own
 * schema, so what really ran is counted apart from what the server says.
 *
 * The rule checked (docs/ARCHITECTURE.md, "Delivery"): delivery is at least once, and a
 * task runs more than once only when an attempt of it ended without its Result being
 * committed — here, an attempt whose lease was live at the crash: started before it, ended
 * `lease_expired` after it. Every re-run is printed with its reason. Postgres must show each
 * task succeeded exactly once, whatever ran.
 *
 * The server process has no Redis key prefix, so each test starts its own redis-server
 * (tests/_support/redis_server.ts): its FLUSHALL cannot touch the machine's Redis.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { systemClock } from "../server/clock.ts";
import { createTestDatabase, type TestDatabase } from "../server/db/testing.ts";
import { createExecutionsTable, spawnCountingWorker } from "./_support/counting_worker.ts";
import { type ServerProcess, startServerProcess } from "./_support/process.ts";
import { bearer, credentials, credentialsOn, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer, TEST_REDIS_URL } from "./_support/server.ts";
import { freePort, type RedisServer, startRedisServer } from "./_support/redis_server.ts";
import { eventually } from "./_support/until.ts";
import { START_RECORD_MS } from "../server/tasks/_start_recorder.ts";

const TASKS = 10_000;
const BATCH = 1000;
const QUEUE = "chaos";
/** The crash comes once this many executions are recorded: well into the run, far from its end. */
const CRASH_AFTER = 2500;
const FLUSHES = 3;
const LONG_EVERY = 50;
const LONG_MS = 3000;
const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = new TextEncoder();

interface Run {
  db: TestDatabase;
  redis: RedisServer;
  env: Record<string, string>;
  server: ServerProcess;
  workers: Deno.ChildProcess[];
  ids: string[];
}

/**
 * Our own Redis and schema, a server process on a fixed port, 10,000 tasks accepted, two
 * workers. One task in 50 runs for 3 s, so a crash always finds handlers in the middle of
 * their work, across several heartbeats; the rest end at once.
 */
async function startRun(serverEnv: Record<string, string> = {}): Promise<Run> {
  const redis = await startRedisServer();
  const db = await createTestDatabase();
  await createExecutionsTable(db.sql);
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    // A fixed port, so a restarted server is where the workers reconnect.
    TASKMESH_PORT: String(freePort()),
    TASKMESH_DATA_DIR: await Deno.makeTempDir({ prefix: "taskmesh-chaos-" }),
    // Leases of 4 s: on a busy machine a worker's heartbeat can be late by more than the
    // default 2 s, and a lease lost that way would be a re-run the crash did not cause.
    TASKMESH_WORKER_HEARTBEAT_MS: "2000",
    TASKMESH_TASKS_TICK_MS: "100",
    ...serverEnv,
  };
  const server = await startServerProcess(env);
  const transport = createGrpcTransport({ baseUrl: server.url });
  const { admin, workerKey } = await credentialsOn({ sql: db.sql, clock: systemClock }, transport);
  const tasks = createClient(TaskService, transport);
  const ids: string[] = [];
  for (let i = 0; i < TASKS; i += BATCH) {
    const specs = Array.from({ length: BATCH }, (_, j) => ({
      queue: QUEUE,
      type: "count",
      payload: enc.encode(j % LONG_EVERY === 0 ? `{"ms": ${LONG_MS}}` : "{}"),
      maxAttempts: 5,
      backoff: { initialDelay: { nanos: 100_000_000 } },
    }));
    ids.push(...(await tasks.enqueueBatch({ tasks: specs }, bearer(admin))).tasks.map((t) => t.id));
  }
  const workers = ["w1", "w2"].map((workerId) =>
    spawnCountingWorker({
      url: server.url,
      apiKey: workerKey,
      databaseUrl: db.url,
      workerId,
      queue: QUEUE,
      concurrency: 50,
    })
  );
  return { db, redis, env, server, workers, ids };
}

async function endRun(run: Run): Promise<void> {
  for (const w of run.workers) {
    try {
      w.kill("SIGKILL");
    } catch { /* gone */ }
  }
  await Promise.all(run.workers.map((w) => w.status));
  try {
    run.server.child.kill("SIGKILL");
  } catch { /* gone */ }
  await run.server.exited;
  await run.db.drop();
  await run.redis.stop();
}

async function executions(run: Run): Promise<number> {
  const [{ n }] = await run.db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
  return n;
}

/** Waits until the workers have run CRASH_AFTER tasks (their start takes seconds on a busy machine). */
async function underWay(run: Run): Promise<void> {
  await eventually(
    "the run is under way",
    async () => await executions(run) >= CRASH_AFTER ? true : undefined,
    { timeoutMs: 120_000 },
  );
}

/** Waits until every accepted task has succeeded in Postgres. */
async function allSucceeded(run: Run): Promise<void> {
  await eventually("every accepted task succeeds", async () => {
    const [{ n }] = await run.db.sql<{ n: number }[]>`
      select count(*)::int as n from tasks where queue = ${QUEUE} and state = 'succeeded'`;
    return n === TASKS ? true : undefined;
  }, { timeoutMs: 120_000, everyMs: 250 });
}

interface Rerun {
  task_id: string;
  attempts: number[];
  outcomes: (string | null)[];
  started: string[];
  ended: (string | null)[];
}

/**
 * The documented window of a broker that lost its state (docs/ARCHITECTURE.md, "Delivery"): a
 * task whose start was not recorded yet (claimed less than START_RECORD_MS before the rebuild
 * read Postgres) may run again. Its runs may share an attempt number, since the run whose
 * Result lost has no attempt row of its own. The slack covers the rebuild's own read.
 */
async function inRebuildWindow(run: Run, taskId: string, rebuilds: Date[]): Promise<boolean> {
  const [first] = await run.db.sql<{ at: Date }[]>`
    select min(at) as at from executions where task_id = ${taskId}`;
  const slackMs = START_RECORD_MS + 1000;
  return rebuilds.some((r) => first.at <= r && r.getTime() - first.at.getTime() <= slackMs);
}

/**
 * Asserts the delivery rule, prints every re-run with its reason, and returns how many tasks
 * ran more than once. A re-run is allowed only of an attempt whose lease was live at `crashAt`,
 * or, with `rebuilds`, of a task whose start was not recorded at a rebuild (inRebuildWindow);
 * with neither, none is.
 */
async function checkDelivery(
  run: Run,
  crash: string,
  crashAt?: Date,
  rebuilds: Date[] = [],
): Promise<number> {
  const { sql } = run.db;
  assert.equal(new Set(run.ids).size, TASKS, "every task was accepted with its own id");
  // Postgres's view: each accepted task succeeded, by exactly one attempt.
  const [{ tasks, succeeded }] = await sql<{ tasks: number; succeeded: number }[]>`
    select count(*)::int as tasks, count(*) filter (where state = 'succeeded')::int as succeeded
      from tasks where id = any(${run.ids}::uuid[])`;
  assert.equal(tasks, TASKS, "no accepted task is missing");
  assert.equal(succeeded, TASKS, "every accepted task succeeded");
  const notOnce = await sql<{ task_id: string; n: number }[]>`
    select t.id as task_id, count(a.*) filter (where a.outcome = 'succeeded')::int as n
      from tasks t left join task_attempts a on a.task_id = t.id
     where t.queue = ${QUEUE}
     group by t.id having count(a.*) filter (where a.outcome = 'succeeded') <> 1`;
  assert.deepEqual([...notOnce], [], "each task has exactly one succeeded attempt");
  // The handler's view: every task ran at least once, and every run belongs to an attempt.
  const [{ ran }] = await sql<{ ran: number }[]>`
    select count(distinct task_id)::int as ran from executions`;
  assert.equal(ran, TASKS, "every task was executed at least once");
  const orphans = await sql`
    select e.task_id, e.attempt from executions e
      left join task_attempts a on a.task_id = e.task_id and a.number = e.attempt
     where a.task_id is null`;
  assert.deepEqual([...orphans], [], "every execution is an attempt Postgres knows");
  const sameAttemptTwice = await sql<{ task_id: string }[]>`
    select task_id, attempt, count(*)::int as n from executions
     group by task_id, attempt having count(*) > 1`;
  const twice = [];
  for (const r of sameAttemptTwice) {
    if (await inRebuildWindow(run, r.task_id, rebuilds)) {
      console.log(`${crash}: task ${r.task_id} executed twice as one attempt: claimed just before a rebuild`);
    } else twice.push(r);
  }
  assert.deepEqual(twice, [], "no attempt was executed twice");
  // Every execution that did not count: its attempt's lease was live at the crash.
  const reruns = await sql<Rerun[]>`
    select e.task_id,
           array_agg(e.attempt order by e.attempt) as attempts,
           array_agg(a.outcome order by e.attempt) as outcomes,
           array_agg(a.started_at::text order by e.attempt) as started,
           array_agg(a.ended_at::text order by e.attempt) as ended
      from executions e join task_attempts a on a.task_id = e.task_id and a.number = e.attempt
     group by e.task_id having count(*) > 1
     order by e.task_id`;
  const unexplained: Rerun[] = [];
  for (const r of reruns) {
    const earlier = r.attempts.slice(0, -1).map((_, i) => i);
    const liveAtCrash = crashAt !== undefined && r.outcomes.at(-1) === "succeeded" &&
      earlier.every((i) =>
        r.outcomes[i] === "lease_expired" && new Date(r.started[i]) <= crashAt &&
        new Date(r.ended[i]!) >= crashAt
      );
    const atRebuild = !liveAtCrash && await inRebuildWindow(run, r.task_id, rebuilds);
    const explained = liveAtCrash || atRebuild;
    const why = liveAtCrash
      ? `attempt ${
        r.attempts[0]
      } held a live lease at the ${crash} and ended lease_expired, its Result uncommitted`
      : atRebuild
      ? `claimed less than ${START_RECORD_MS} ms before a rebuild, its start not yet recorded`
      : crashAt === undefined
      ? "NOT ALLOWED: nothing may run twice through this"
      : `UNEXPLAINED: started ${r.started.join(", ")}, ended ${
        r.ended.join(", ")
      }, the ${crash} at ${crashAt.toISOString()}`;
    console.log(
      `${crash}: task ${r.task_id} executed ${r.attempts.length} times, attempts ${r.attempts.join(", ")} ` +
        `(${r.outcomes.join(", ")}): ${why}`,
    );
    if (!explained) unexplained.push(r);
  }
  assert.deepEqual(unexplained, [], "every re-run is one the delivery rule allows");
  console.log(`${crash}: ${TASKS} tasks, ${reruns.length} executed more than once, none lost`);
  return reruns.length;
}

Deno.test(
  "the server SIGKILLed and restarted in the middle of 10,000 tasks: none lost, re-runs only of live leases",
  opts,
  async () => {
    const run = await startRun();
    try {
      await underWay(run);
      run.server.child.kill("SIGKILL");
      const crashAt = new Date();
      await run.server.exited;
      const atCrash = await executions(run);
      // The same Postgres, the same Redis, the same port: the workers reconnect on their own.
      run.server = await startServerProcess(run.env);
      await allSucceeded(run);
      assert.ok(atCrash < TASKS, `the crash came before the end (${atCrash} executions)`);
      await checkDelivery(run, "server kill", crashAt);
    } finally {
      await endRun(run);
    }
  },
);

Deno.test(
  "Redis flushed (FLUSHALL) in the middle of 10,000 tasks: none lost, re-runs only of unrecorded starts at a rebuild",
  opts,
  async () => {
    // A slow promoter (its tick rebuilds the broker), so the workers' heartbeats come while Redis is
    // empty, as they can in production with a 250 ms tick and a 1 s heartbeat. Three flushes, each
    // once work has resumed after the last rebuild: handlers are running, and a heartbeat of each
    // worker falls in the 5 s before the next rebuild (heartbeats every 2 s).
    const run = await startRun({ TASKMESH_TASKS_TICK_MS: "5000" });
    const redis = new Redis(run.redis.url);
    const rebuiltLines = () => run.server.lines.filter((l) => l.msg === "broker rebuilt from Postgres");
    const rebuilds = () => rebuiltLines().length;
    try {
      await underWay(run);
      for (let flush = 0; flush < FLUSHES; flush++) {
        const ran = await executions(run);
        await eventually("work resumes", async () => await executions(run) >= ran + 300 ? true : undefined);
        const before = rebuilds();
        await redis.flushall();
        await eventually(
          "the server notices and rebuilds the broker",
          () => rebuilds() > before || undefined,
        );
      }
      const atCrash = await executions(run);
      await allSucceeded(run);
      assert.ok(atCrash < TASKS, `the flushes came before the end (${atCrash} executions)`);
      // The workers never lost their streams and kept beating: the rebuild gives every task whose
      // start is recorded its lease back, so nothing else may run twice (each one that did is printed).
      const rebuiltAt = rebuiltLines().map((l) => new Date(String(l.time)));
      const twice = await checkDelivery(run, "FLUSHALL", undefined, rebuiltAt);
      console.log(`FLUSHALL: ${twice} tasks ran twice, each in the window the delivery rule allows`);
    } finally {
      redis.disconnect();
      await endRun(run);
    }
  },
);

Deno.test(
  "a heartbeat that reaches an emptied Redis before the rebuild keeps its lease: the result is taken",
  opts,
  async () => {
    // The longest tick: the broker is rebuilt only when the test has finished.
    const server = await startTestServer({ redis: true, env: { TASKMESH_TASKS_TICK_MS: "10000" } });
    const { admin, workerKey } = await credentials(server);
    const tasks = createClient(TaskService, server.grpc());
    const worker = openRawWorker(server.grpc(), workerKey);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      worker.send({ case: "hello", value: { workerId: "beating", queues: ["flushed"], concurrency: 1 } });
      await worker.nextOf("welcome");
      const { task } = await tasks.enqueue({ task: { queue: "flushed", type: "anything" } }, bearer(admin));
      const assign = await worker.nextOf("assign");
      assert.equal(assign.task!.id, task!.id);
      // This server's whole Redis state goes, as in a FLUSHALL (its keys share one prefix).
      const keys = await redis.keys(`${server.redisPrefix}*`);
      assert.ok(keys.length > 0);
      await redis.del(...keys);
      const lease = { taskId: task!.id, leaseId: assign.leaseId };
      worker.send({ case: "heartbeat", value: { leases: [lease], load: 1 } });
      worker.send({
        case: "result",
        value: { ...lease, outcome: { case: "output", value: enc.encode("{}") } },
      });
      const ack = await worker.nextOf("resultAck");
      assert.equal(ack.accepted, true, `the result was refused: ${ack.reason}`);
      const done = (await tasks.getTask({ id: task!.id }, bearer(admin))).task!;
      assert.equal(done.state, TaskState.SUCCEEDED);
      assert.equal(done.attempts.length, 1);
    } finally {
      worker.kill();
      redis.disconnect();
      await server.close();
    }
  },
);
