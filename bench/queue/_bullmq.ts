/**
 * BullMQ under test, the baseline: a Queue in the bench process (the producer) and a
 * Worker in its own process (bench/queue/bullmq_worker.ts), on a Redis database index
 * of its own. Default job options (jobs are kept after they complete) and default
 * worker settings apart from concurrency.
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { type Child, spawnChild, stopChild } from "./_child.ts";
import {
  inFlight,
  poll,
  pollUntil,
  type QueueSystem,
  type Skips,
  type Window,
  type WorkerSpec,
} from "./_system.ts";

const HERE = new URL(".", import.meta.url).pathname;
/** BullMQ's default key prefix: a job's hash is `bull:<queue>:<id>`. */
const PREFIX = "bull";

/**
 * `name` "bullmq" is BullMQ on the shared Redis as it runs by default; "bullmq-aof" the same
 * against a Redis the bench started with `appendonly yes, appendfsync always` (_redis_aof.ts).
 */
export async function startBullmq(
  redisUrl: string,
  name: "bullmq" | "bullmq-aof" = "bullmq",
  note = "",
  skips: Skips = {},
): Promise<QueueSystem> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: redis });
      queues.set(name, queue);
    }
    return queue;
  };
  const closeQueues = async () => {
    for (const queue of queues.values()) await queue.close();
    queues.clear();
  };

  return {
    name,
    note,
    skips,
    async reset() {
      await closeQueues();
      await redis.flushdb();
    },
    async enqueueSingle(name, n, concurrency, stopAt) {
      const queue = queueOf(name);
      await queue.waitUntilReady();
      return await inFlight(n, concurrency, stopAt, () => queue.add("noop", {}));
    },
    async enqueueBatched(name, n, batch, stopAt) {
      const queue = queueOf(name);
      await queue.waitUntilReady();
      const size = (i: number) => Math.min(batch, n - i * batch);
      return await inFlight(
        Math.ceil(n / batch),
        1,
        stopAt,
        (i) => queue.addBulk(Array.from({ length: size(i) }, () => ({ name: "noop", data: {} }))),
        size,
      );
    },
    async enqueueOne(name, type, payload) {
      return (await queueOf(name).add(type, payload)).id!;
    },
    async startWorker(w: WorkerSpec): Promise<Child> {
      const child = spawnChild(`bullmq worker ${w.id}`, [
        "deno",
        "run",
        "-A",
        `${HERE}bullmq_worker.ts`,
        `--redis-url=${redisUrl}`,
        `--queue=${w.queue}`,
        `--concurrency=${w.concurrency}`,
        `--worker-id=${w.id}`,
        ...(w.logStarts ? ["--log-starts"] : []),
      ], {});
      let ready = false;
      const off = child.onLine((line) => ready ||= line.includes('"worker ready"'));
      try {
        await poll(
          () => {
            if (child.exitCode !== undefined) throw new Error(`exited with code ${child.exitCode}`);
            return Promise.resolve(ready);
          },
          60_000,
          `worker ${w.id} to connect`,
          20,
        );
      } catch (error) {
        await stopChild(child, 1000);
        throw new Error(`${(error as Error).message}; its output ends:\n${child.tail()}`);
      } finally {
        off();
      }
      return child;
    },
    async waitSucceeded(name, n, stopAt) {
      const queue = queueOf(name);
      await pollUntil(
        async () => {
          const counts = await queue.getJobCounts("completed", "failed");
          if (counts.failed > 0) throw new Error(`${counts.failed} jobs of ${name} failed`);
          return counts.completed >= n;
        },
        stopAt,
      );
    },
    async window(name): Promise<Window> {
      // The completed set is scored by finishedOn; processedOn lives in each job's hash.
      const flat = await redis.zrange(`${PREFIX}:${name}:completed`, 0, -1, "WITHSCORES");
      const ids: string[] = [];
      let lastFinishMs = 0;
      for (let i = 0; i < flat.length; i += 2) {
        ids.push(flat[i]);
        lastFinishMs = Math.max(lastFinishMs, Number(flat[i + 1]));
      }
      const starts = await processedOn(redis, name, ids);
      let firstStartMs = Infinity;
      for (const start of starts.values()) firstStartMs = Math.min(firstStartMs, start);
      return { count: ids.length, firstStartMs, lastFinishMs };
    },
    recordedStarts(name, ids) {
      return processedOn(redis, name, ids);
    },
    async close() {
      await closeQueues();
      await redis.flushdb();
      redis.disconnect();
    },
  };
}

/** job.processedOn of each job: when its latest attempt was moved to active. */
async function processedOn(redis: Redis, queue: string, ids: string[]): Promise<Map<string, number>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(`${PREFIX}:${queue}:${id}`, "processedOn");
  const replies = (await pipeline.exec()) ?? [];
  const starts = new Map<string, number>();
  replies.forEach(([error, value], i) => {
    if (!error && value !== null) starts.set(ids[i], Number(value));
  });
  return starts;
}
