/**
 * The pg-boss side's worker process for `deno task bench:queue`: one PgBoss instance and
 * one `work()` on the queue with pg-boss's throughput options
 * (https://pgboss.io/api/workers): the worker fetches `batchSize` = the concurrency asked
 * for in one statement and completes the whole batch in one (its handler runs the batch's
 * jobs side by side), `burstWhenBatchFull` fetches again at once while batches come back
 * full, `burstWhenReadyExceeds: 1` does the same at batchSize 1 (it reads the queue's
 * cached ready count, so the cache, the supervisor and the monitor refresh every second here), and
 * LISTEN/NOTIFY wakes it when a job is sent (`useListenNotify`; the queue is created with
 * `notify: true`), with the shortest poll allowed (0.5 s) as the backstop.
 *
 * Usage: deno run -A bench/queue/pgboss_worker.ts --database-url=URL --queue=NAME
 *   --concurrency=N --worker-id=ID [--log-starts]
 * Prints the lines described in _peer.ts. SIGTERM stops the instance gracefully (running
 * batches finish and complete), prints the window and exits 0.
 */
import { PgBoss } from "pg-boss";
import { flagValue, hasFlag } from "../rpc/_flags.ts";
import { HandlerWindow, line, onStopSignal, runHandler } from "./_peer.ts";

/** The PgBoss constructor options both the bench's producer and this worker use. */
export function pgBossOptions(connectionString: string, max: number) {
  return {
    connectionString,
    max,
    schedule: false,
    useListenNotify: true,
    superviseIntervalSeconds: 1,
    monitorIntervalSeconds: 1,
    queueCacheIntervalSeconds: 1,
  };
}

function required(name: string): string {
  const value = flagValue(Deno.args, name);
  if (!value) {
    console.error(`pgboss_worker: --${name} is required`);
    Deno.exit(2);
  }
  return value;
}

if (import.meta.main) {
  const connectionString = required("database-url");
  const queue = required("queue");
  const concurrency = Number(required("concurrency"));
  const workerId = required("worker-id");
  const window = new HandlerWindow(workerId, hasFlag(Deno.args, "log-starts"));

  const boss = new PgBoss(pgBossOptions(connectionString, 10));
  boss.on("error", (error) => line({ level: "error", msg: "pg-boss error", error: String(error) }));
  await boss.start();
  await boss.work(
    queue,
    {
      batchSize: concurrency,
      localConcurrency: 1,
      burstWhenBatchFull: true,
      burstWhenReadyExceeds: 1,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
    },
    async (jobs) => {
      await Promise.all(jobs.map(async (job) => {
        window.started(job.id);
        await runHandler((job.data as { type?: string } | null)?.type ?? "noop", job.data);
        window.finished();
      }));
    },
  );
  onStopSignal(() => boss.stop({ graceful: true }), window);
  line({ msg: "worker ready", worker_id: workerId });
}
