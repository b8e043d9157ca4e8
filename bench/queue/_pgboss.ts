/**
 * pg-boss under test: a database of its own on the bench's Postgres, made for the run and
 * dropped after it; a PgBoss instance in the bench process as the producer (send one job
 * per call, insert for a batch), and one in its own process (bench/queue/pgboss_worker.ts)
 * working the queue with pg-boss's throughput options. Each phase's queue is created with
 * `notify: true` (LISTEN/NOTIFY wakes the worker) and deleted by the next reset. pg-boss
 * keeps completed jobs, so the processing window and the recorded starts come from its
 * job table (started_on, completed_on).
 */
import { PgBoss } from "pg-boss";
import { connectPostgres, type Sql } from "../../server/db/postgres.ts";
import { stopChild } from "./_child.ts";
import { type PeerWorker, spawnPeerWorker } from "./_peer.ts";
import { createDatabase, dropDatabase } from "./_taskmesh.ts";
import { inFlight, pollUntil, type QueueSystem, type Window, type WorkerSpec } from "./_system.ts";
import { pgBossOptions } from "./pgboss_worker.ts";

const HERE = new URL(".", import.meta.url).pathname;

export async function startPgBoss(adminDatabaseUrl: string): Promise<QueueSystem> {
  const databaseUrl = await createDatabase(adminDatabaseUrl, "pgboss_bench");
  let boss: PgBoss | undefined;
  let sql: Sql | undefined;
  try {
    // The producer neither supervises nor monitors: the worker's instance does.
    boss = new PgBoss({ ...pgBossOptions(databaseUrl, 10), supervise: false });
    boss.on("error", (error) => console.error(`pg-boss producer: ${error}`));
    await boss.start();
    sql = connectPostgres(databaseUrl, { max: 2 });
    return pgBossSystem(adminDatabaseUrl, databaseUrl, boss, sql);
  } catch (error) {
    await boss?.stop({ graceful: false }).catch(() => {});
    await sql?.end();
    await dropDatabase(adminDatabaseUrl, databaseUrl);
    throw error;
  }
}

function pgBossSystem(adminUrl: string, databaseUrl: string, boss: PgBoss, sql: Sql): QueueSystem {
  const queues = new Set<string>();
  const workers = new Set<PeerWorker>();
  const queue = async (name: string) => {
    if (queues.has(name)) return name;
    await boss.createQueue(name, { notify: true });
    queues.add(name);
    return name;
  };
  const payload = (type: string, data: unknown) =>
    type === "noop" ? {} : { ...(data as Record<string, unknown>), type };
  return {
    name: "pg-boss",
    note:
      `pg-boss ${PGBOSS_VERSION}: its own database; the producer is a PgBoss instance in the bench process (send per task, insert per batch); the worker one in its own Deno process (bench/queue/pgboss_worker.ts): work() with batchSize = the concurrency and localConcurrency 1 (one fetch statement takes up to that many jobs, the handler runs them side by side, one statement completes the batch), burstWhenBatchFull, burstWhenReadyExceeds 1 (with the supervisor, monitor and queue cache every second, so it bursts at batchSize 1 too), polling every 0.5 s (its minimum) as a backstop to LISTEN/NOTIFY (useListenNotify, queues created with notify: true). Default job options (retries, 15 min expiry, completed jobs kept).`,
    skips: {
      requeue:
        "a killed worker's active jobs come back only when they expire (expireInSeconds, default 15 minutes) or with heartbeats configured per queue",
    },
    async reset() {
      for (const w of workers) await stopChild(w.child, 5000);
      workers.clear();
      for (const name of queues) await boss.deleteQueue(name);
      queues.clear();
    },
    async enqueueSingle(name, n, concurrency, stopAt) {
      await queue(name);
      return await inFlight(n, concurrency, stopAt, () => boss.send(name, {}));
    },
    async enqueueBatched(name, n, batch, stopAt) {
      await queue(name);
      const size = (i: number) => Math.min(batch, n - i * batch);
      return await inFlight(
        Math.ceil(n / batch),
        1,
        stopAt,
        (i) => boss.insert(name, Array.from({ length: size(i) }, () => ({ data: {} }))),
        size,
      );
    },
    async enqueueOne(name, type, data) {
      await queue(name);
      const id = await boss.send(name, payload(type, data));
      if (!id) throw new Error(`pg-boss refused a job on ${name}`);
      return id;
    },
    async startWorker(w: WorkerSpec) {
      await queue(w.queue);
      const worker = await spawnPeerWorker(`pg-boss worker ${w.id}`, [
        "deno",
        "run",
        "-A",
        `${HERE}pgboss_worker.ts`,
        `--database-url=${databaseUrl}`,
        `--queue=${w.queue}`,
        `--concurrency=${w.concurrency}`,
        `--worker-id=${w.id}`,
        ...(w.logStarts ? ["--log-starts"] : []),
      ]);
      workers.add(worker);
      return worker.child;
    },
    async waitSucceeded(name, n, stopAt) {
      await pollUntil(async () => {
        const [row] = await sql<{ completed: number; failed: number }[]>`
          select count(*) filter (where state = 'completed')::int as completed,
                 count(*) filter (where state in ('failed', 'retry'))::int as failed
          from pgboss.job where name = ${name}`;
        if (row.failed > 0) throw new Error(`${row.failed} pg-boss jobs of ${name} failed`);
        return row.completed >= n;
      }, stopAt);
    },
    async window(name): Promise<Window> {
      const [row] = await sql<{ count: number; first: number | null; last: number | null }[]>`
        select count(*)::int as count,
               round(extract(epoch from min(started_on)) * 1000)::float8 as first,
               round(extract(epoch from max(completed_on)) * 1000)::float8 as last
        from pgboss.job where name = ${name} and state = 'completed'`;
      return { count: row.count, firstStartMs: row.first ?? NaN, lastFinishMs: row.last ?? NaN };
    },
    async recordedStarts(name, ids) {
      const rows = await sql<{ id: string; started: number }[]>`
        select id::text, round(extract(epoch from started_on) * 1000)::float8 as started
        from pgboss.job where name = ${name} and id = any(${ids}::uuid[]) and started_on is not null`;
      return new Map(rows.map((r) => [r.id, r.started]));
    },
    async close() {
      for (const w of workers) await stopChild(w.child, 5000);
      await boss.stop({ graceful: false }).catch((e) => console.error(`stopping pg-boss: ${e}`));
      await sql.end();
      await dropDatabase(adminUrl, databaseUrl);
    },
  };
}

const PGBOSS_VERSION = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).imports["pg-boss"].replace(/^npm:pg-boss@/, "");
