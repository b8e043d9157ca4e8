/**
 * graphile-worker under test: a database of its own on the bench's Postgres, made for the
 * run and dropped after it; WorkerUtils in the bench process as the producer (addJob one
 * job per call, addJobs for a batch), and a runner in its own process
 * (bench/queue/graphile_worker.ts) with the settings of graphile-worker's "quick stats".
 *
 * graphile-worker has no named queue a worker listens on (its `queueName` makes jobs run
 * one at a time), so the bench's queue name is not passed on: the database is emptied
 * between phases and the worker runs whatever is there. It deletes a job once it
 * completes (in batches here), so the processing window runs from the worker process's
 * first handler start to the moment the bench, polling every 20 ms, first saw the jobs
 * table empty (every completion committed): late by up to one poll, so a little in its
 * disfavour. There is no recorded start to read.
 */
import { makeWorkerUtils, type WorkerUtils } from "graphile-worker";
import { connectPostgres, type Sql } from "../../server/db/postgres.ts";
import { stopChild } from "./_child.ts";
import { type PeerWorker, spawnPeerWorker } from "./_peer.ts";
import { createDatabase, dropDatabase } from "./_taskmesh.ts";
import { inFlight, pollUntil, type QueueSystem, type Window, type WorkerSpec } from "./_system.ts";

const HERE = new URL(".", import.meta.url).pathname;
const JOBS = "graphile_worker._private_jobs";

export async function startGraphile(adminDatabaseUrl: string): Promise<QueueSystem> {
  const databaseUrl = await createDatabase(adminDatabaseUrl, "graphile_bench");
  let utils: WorkerUtils | undefined;
  let sql: Sql | undefined;
  try {
    utils = await makeWorkerUtils({ connectionString: databaseUrl });
    await utils.migrate();
    sql = connectPostgres(databaseUrl, { max: 2 });
    return graphileSystem(adminDatabaseUrl, databaseUrl, utils, sql);
  } catch (error) {
    await utils?.release();
    await sql?.end();
    await dropDatabase(adminDatabaseUrl, databaseUrl);
    throw error;
  }
}

function graphileSystem(adminUrl: string, databaseUrl: string, utils: WorkerUtils, sql: Sql): QueueSystem {
  /** The last worker started for each queue: its window is read after it stopped. */
  const workers = new Map<string, PeerWorker>();
  /** When the jobs table was first seen empty, per queue (Date.now()). */
  const drainedAt = new Map<string, number>();
  return {
    name: "graphile-worker",
    note:
      `graphile-worker ${GRAPHILE_VERSION}: its own database; the producer is WorkerUtils (addJob per task, addJobs per batch) in the bench process; the worker a runner in its own Deno process (bench/queue/graphile_worker.ts) with the settings of its performance page's "quick stats": concurrentJobs = the concurrency, maxPoolSize 25, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0, prepared statements on; its logger prints warnings and errors only. It deletes a job once it completes, so "processed" runs from the worker's first handler start to the bench first seeing its jobs table empty (polled every 20 ms, so up to 20 ms late), and it has no recorded start.`,
    skips: {
      requeue: "a killed worker's jobs stay locked until graphile-worker's lock timeout (4 hours by default)",
    },
    async reset() {
      workers.clear();
      drainedAt.clear();
      await sql.unsafe(`truncate ${JOBS}, graphile_worker._private_job_queues`);
    },
    async enqueueSingle(_queue, n, concurrency, stopAt) {
      return await inFlight(n, concurrency, stopAt, () => utils.addJob("noop", {}));
    },
    async enqueueBatched(_queue, n, batch, stopAt) {
      const size = (i: number) => Math.min(batch, n - i * batch);
      return await inFlight(
        Math.ceil(n / batch),
        1,
        stopAt,
        (i) => utils.addJobs(Array.from({ length: size(i) }, () => ({ identifier: "noop", payload: {} }))),
        size,
      );
    },
    async enqueueOne(_queue, type, payload) {
      return (await utils.addJob(type, payload as Record<string, unknown>)).id;
    },
    async startWorker(w: WorkerSpec) {
      const worker = await spawnPeerWorker(`graphile-worker ${w.id}`, [
        "deno",
        "run",
        "-A",
        `${HERE}graphile_worker.ts`,
        `--database-url=${databaseUrl}`,
        `--concurrency=${w.concurrency}`,
        `--worker-id=${w.id}`,
        ...(w.logStarts ? ["--log-starts"] : []),
      ]);
      workers.set(w.queue, worker);
      return worker.child;
    },
    async waitSucceeded(queue, _n, stopAt) {
      await pollUntil(
        async () => {
          const [row] = await sql.unsafe<{ busy: boolean }[]>(
            `select exists (select 1 from ${JOBS}) as busy`,
          );
          if (!row.busy) drainedAt.set(queue, Date.now());
          return !row.busy;
        },
        stopAt,
        20,
      );
      const [row] = await sql.unsafe<{ failed: number }[]>(
        `select count(*)::int as failed from ${JOBS} where last_error is not null`,
      );
      if (row.failed > 0) throw new Error(`${row.failed} graphile-worker jobs failed`);
    },
    window(queue): Promise<Window> {
      const w = workers.get(queue)?.window();
      if (!w) throw new Error(`the graphile-worker worker for ${queue} printed no window (was it killed?)`);
      // Every completion committed; when the time limit came first, the last handler end.
      return Promise.resolve({ ...w, lastFinishMs: drainedAt.get(queue) ?? w.lastFinishMs });
    },
    recordedStarts() {
      return Promise.resolve(null);
    },
    async close() {
      for (const w of workers.values()) await stopChild(w.child, 5000);
      await utils.release();
      await sql.end();
      await dropDatabase(adminUrl, databaseUrl);
    },
  };
}

const GRAPHILE_VERSION = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).imports["graphile-worker"].replace(/^npm:graphile-worker@/, "");
