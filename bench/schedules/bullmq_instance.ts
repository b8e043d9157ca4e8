/**
 * One BullMQ instance for `deno task bench:schedules`: a Worker on the queue whose job
 * schedulers (`upsertJobScheduler`) the bench made. BullMQ adds a scheduler's next job
 * when its current one is taken, so workers keep the schedules going. Its handler does
 * nothing but print `{"s": scheduler, "t": the job's intended time, "p": processedOn}`: the
 * intended time is the tick in the job's id (`repeat:<scheduler>:<millis>`) plus the
 * scheduler's offset, when it has one.
 * Prints `{"msg":"ready"}`; SIGTERM closes the worker and exits.
 *
 * Usage: deno run -A bench/schedules/bullmq_instance.ts --redis-url=URL --queue=NAME --prefix=P
 */
import { type Job, Worker } from "bullmq";
import { Redis } from "ioredis";
import { flagValue } from "../rpc/_flags.ts";

const encoder = new TextEncoder();

if (import.meta.main) {
  const redisUrl = flagValue(Deno.args, "redis-url")!;
  const queue = flagValue(Deno.args, "queue")!;
  const prefix = flagValue(Deno.args, "prefix")!;
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const processor = (job: Job) => {
    const record = {
      s: job.repeatJobKey ?? job.name,
      t: Number(job.id?.split(":").at(-1)) +
        ((job.opts as { repeat?: { offset?: number } }).repeat?.offset ?? 0),
      p: job.processedOn ?? Date.now(),
    };
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(record) + "\n"));
    return Promise.resolve();
  };
  const worker = new Worker(queue, processor, {
    connection,
    prefix,
    concurrency: 1000,
    removeOnComplete: { count: 0 },
  });
  worker.on("error", (error) => console.error(JSON.stringify({ msg: "worker error", error: String(error) })));
  await worker.waitUntilReady();
  console.log(JSON.stringify({ msg: "ready" }));
  Deno.addSignalListener("SIGTERM", () => {
    worker.close().then(() => connection.quit()).finally(() => Deno.exit(0));
  });
}
