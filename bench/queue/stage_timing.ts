/**
 * Per-stage timing of taskmesh's task hot path, outside the RPC stack: the server's own
 * store (Postgres) and broker (Redis) modules called directly, as the server calls them
 * for each task. It explains `deno task bench:queue`'s figures stage by stage:
 *
 *   1. one task at a time through enqueue → broker add + notify → claim → start → finish
 *      → release (what the idle-system latency is made of);
 *   2. many leases at once: store.start and store.finish one after another (as
 *      WorkerSession does today: a claim's leases in a loop, results in the stream's
 *      reader loop) against all of them in flight on the pool, and one claim of many;
 *   3. a batch of 1000 through store.enqueue and broker.add (EnqueueBatch's two stages).
 *
 * Usage: deno run -A bench/queue/stage_timing.ts [--samples=300] [--leases=100] [--pool=10]
 * Env: BENCH_ADMIN_DATABASE_URL, BENCH_TASKMESH_REDIS_URL (as bench:queue; the Redis
 * database is flushed).
 */
import { create } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { TaskSpecSchema } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { createRedisBroker } from "../../server/broker/redis_broker.ts";
import { migrate } from "../../server/db/migrate.ts";
import { connectPostgres } from "../../server/db/postgres.ts";
import { createLogger } from "../../server/log.ts";
import { toNewTask } from "../../server/tasks/_spec.ts";
import { createTaskStore } from "../../server/tasks/pg_store.ts";
import { runnable } from "../../server/tasks/model.ts";
import { flagValue } from "../rpc/_flags.ts";
import { createDatabase, dropDatabase } from "./_taskmesh.ts";
import { percentile, round } from "./_system.ts";

const samples = Number(flagValue(Deno.args, "samples") ?? 300);
const leases = Number(flagValue(Deno.args, "leases") ?? 100);
const pool = Number(flagValue(Deno.args, "pool") ?? 10);
const adminUrl = Deno.env.get("BENCH_ADMIN_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = Deno.env.get("BENCH_TASKMESH_REDIS_URL") ?? "redis://127.0.0.1:6379/13";

const QUEUE = "stages";
const WORKER = "stage-worker";
const log = createLogger({ level: "error" });
const noop = () =>
  toNewTask(
    create(TaskSpecSchema, { queue: QUEUE, type: "noop", payload: new Uint8Array() }),
    Date.now(),
    "task",
  );

function summary(name: string, ms: number[]): void {
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(
    `  ${name.padEnd(34)} mean ${mean.toFixed(2).padStart(6)} ms  p50 ${
      percentile(ms, 50).toFixed(2).padStart(6)
    }  p99 ${percentile(ms, 99).toFixed(2).padStart(6)}`,
  );
}

async function timed<T>(into: number[], f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await f();
  into.push(performance.now() - t0);
  return value;
}

if (import.meta.main) {
  const databaseUrl = await createDatabase(adminUrl);
  const sql = connectPostgres(databaseUrl, { max: pool });
  const redis = new Redis(redisUrl);
  try {
    await migrate(sql, { log });
    await redis.flushdb();
    const store = createTaskStore(sql);
    const broker = createRedisBroker({ redis, log });
    const claimOf = (max: number) =>
      broker.claim({ queues: [QUEUE], max, workerId: WORKER, leaseTtlMs: 60_000, now: Date.now() });

    console.log(`1. one task at a time, ${samples} samples (Postgres pool ${pool}):`);
    const t = { enqueue: [] as number[], add: [] as number[], claim: [] as number[], start: [] as number[] };
    const u = { finish: [] as number[], release: [] as number[], whole: [] as number[] };
    for (let i = 0; i < samples + 20; i++) {
      const w0 = performance.now();
      const { tasks } = await timed(t.enqueue, () => store.enqueue([noop()], Date.now()));
      await timed(t.add, async () => {
        await broker.add([runnable(tasks[0])!], Date.now());
        await broker.notify(QUEUE);
      });
      const [lease] = await timed(t.claim, () => claimOf(1));
      await timed(t.start, () => store.start(lease.taskId, lease.leaseId, WORKER, Date.now()));
      await timed(
        u.finish,
        () =>
          store.finish(
            lease.taskId,
            lease.leaseId,
            { ok: true, output: new Uint8Array() },
            Date.now(),
            Math.random,
          ),
      );
      await timed(u.release, () => broker.release(lease.taskId, lease.leaseId));
      u.whole.push(performance.now() - w0);
      if (i === 19) { for (const list of [...Object.values(t), ...Object.values(u)]) list.length = 0; }
    }
    summary("store.enqueue (1 task, 1 txn)", t.enqueue);
    summary("broker.add + notify", t.add);
    summary("broker.claim (max 1)", t.claim);
    summary("store.start", t.start);
    summary("store.finish (txn)", u.finish);
    summary("broker.release", u.release);
    summary("all six, one task", u.whole);

    console.log(`\n2. ${leases} leases at once (Postgres pool ${pool}), 3 rounds each:`);
    for (let round_ = 0; round_ < 3; round_++) {
      const { tasks } = await store.enqueue(Array.from({ length: leases * 2 }, noop), Date.now());
      await broker.add(tasks.map((x) => runnable(x)!), Date.now());
      const c0 = performance.now();
      const batchA = await claimOf(leases);
      const claimMs = performance.now() - c0;
      const batchB = await claimOf(leases);
      const s0 = performance.now();
      for (const l of batchA) await store.start(l.taskId, l.leaseId, WORKER, Date.now());
      const startSerial = performance.now() - s0;
      const s1 = performance.now();
      await Promise.all(batchB.map((l) => store.start(l.taskId, l.leaseId, WORKER, Date.now())));
      const startParallel = performance.now() - s1;
      const ok = { ok: true as const, output: new Uint8Array() };
      const f0 = performance.now();
      for (const l of batchA) await store.finish(l.taskId, l.leaseId, ok, Date.now(), Math.random);
      const finishSerial = performance.now() - f0;
      const f1 = performance.now();
      await Promise.all(batchB.map((l) => store.finish(l.taskId, l.leaseId, ok, Date.now(), Math.random)));
      const finishParallel = performance.now() - f1;
      const r0 = performance.now();
      for (const l of batchA) await broker.release(l.taskId, l.leaseId);
      const releaseSerial = performance.now() - r0;
      await Promise.all(batchB.map((l) => broker.release(l.taskId, l.leaseId)));
      const per = (ms: number) => `${round(ms / leases, 2)} ms/task = ${round(leases / (ms / 1000), 0)}/s`;
      console.log(`  round ${round_ + 1}: claim of ${leases}: ${round(claimMs, 1)} ms`);
      console.log(
        `    store.start   one after another ${per(startSerial)}; all in flight ${per(startParallel)}`,
      );
      console.log(
        `    store.finish  one after another ${per(finishSerial)}; all in flight ${per(finishParallel)}`,
      );
      console.log(`    broker.release one after another ${per(releaseSerial)}`);
    }
    console.log("\n3. a batch of 1000 tasks (as EnqueueBatch does), 5 rounds:");
    const batch = { store: [] as number[], broker: [] as number[] };
    for (let i = 0; i < 5; i++) {
      const specs = Array.from({ length: 1000 }, noop);
      const { tasks } = await timed(batch.store, () => store.enqueue(specs, Date.now()));
      await timed(batch.broker, async () => {
        await broker.add(tasks.map((x) => runnable(x)!), Date.now());
        await broker.notify(QUEUE);
      });
    }
    summary("store.enqueue (1000 tasks, 1 txn)", batch.store);
    summary("broker.add + notify (1000 tasks)", batch.broker);
  } finally {
    await sql.end();
    await redis.flushdb();
    redis.disconnect();
    await dropDatabase(adminUrl, databaseUrl);
  }
}
