/**
 * The BullMQ side's worker process for `deno task bench:queue`: one BullMQ Worker with
 * its default settings (lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1) but
 * the concurrency asked for, running the same two handlers as taskmesh's worker process:
 * `noop` (returns at once) and `sleep` (data `{"ms": n}`).
 *
 * Usage: deno run -A bench/queue/bullmq_worker.ts --redis-url=redis://127.0.0.1:6379/14
 *   --queue=NAME --concurrency=N --worker-id=ID [--log-starts]
 * Prints `{"msg":"worker ready"}` once connected and, with --log-starts, one line
 * `{"time": ISO, "msg": "task started", "task_id": ID}` per handler start, as taskmesh's
 * worker does at --log-level=debug. SIGTERM closes the worker (running jobs finish) and
 * exits 0; a second signal exits at once.
 */
import { type Job, Worker } from "bullmq";
import { Redis } from "ioredis";
import { flagValue, hasFlag } from "../rpc/_flags.ts";

const encoder = new TextEncoder();

function line(record: Record<string, unknown>): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(record) + "\n"));
}

function required(name: string): string {
  const value = flagValue(Deno.args, name);
  if (!value) {
    console.error(`bullmq_worker: --${name} is required`);
    Deno.exit(2);
  }
  return value;
}

if (import.meta.main) {
  const redisUrl = required("redis-url");
  const queue = required("queue");
  const concurrency = Number(required("concurrency"));
  const workerId = required("worker-id");
  const logStarts = hasFlag(Deno.args, "log-starts");

  const processor = async (job: Job) => {
    if (logStarts) {
      line({ time: new Date().toISOString(), msg: "task started", task_id: job.id, worker_id: workerId });
    }
    if (job.name === "sleep") {
      const ms = Number((job.data as { ms?: unknown }).ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { slept: ms };
    }
    return undefined;
  };
  // A Worker blocks on its connection: BullMQ requires maxRetriesPerRequest null for it.
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(queue, processor, { connection, concurrency, name: workerId });
  worker.on("error", (error) => line({ level: "error", msg: "worker error", error: String(error) }));

  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) Deno.exit(1);
    worker.close().then(() => connection.quit()).finally(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);

  await worker.waitUntilReady();
  line({ msg: "worker ready", worker_id: workerId });
}
