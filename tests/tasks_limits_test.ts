/**
 * Queue limits and limit groups over real servers, Postgres and Redis: a concurrency
 * limit holds across two workers on two server instances (measured by the handler's own
 * overlap counter), a rate limit holds over a real window, and limits set in Postgres
 * come back when the broker is rebuilt after its keys were flushed.
 */
import { internalsForTests } from "../server/tasks/runtime.ts";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { tasksOf } from "../server/runtimes.ts";
import { createMemoryLogger, createWorker, type Handler } from "../worker/mod.ts";
import { bearer, credentials } from "./_support/raw_worker.ts";
import { startTestServer, TEST_REDIS_URL, type TestServer } from "./_support/server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A worker built with the SDK on `server`, running `handler` for type "hold". */
async function startWorker(
  server: TestServer,
  apiKey: string,
  queue: string,
  concurrency: number,
  handler: Handler,
) {
  const log = createMemoryLogger("info");
  const worker = createWorker({
    url: server.url,
    apiKey,
    queues: [queue],
    concurrency,
    workerId: `limits-${crypto.randomUUID().slice(0, 8)}`,
    handlers: { hold: handler },
    log,
  });
  const running = worker.start();
  await Promise.race([
    log.waitFor("connected"),
    running.then(() => {
      throw new Error("the worker stopped before the server welcomed it");
    }),
  ]);
  return {
    async stop() {
      await worker.drain();
      await running;
    },
  };
}

/** Resolves when `count` reaches `n` (the handler calls `tick` once per task it ends). */
function counter(n: number) {
  let done = 0;
  let resolve!: () => void;
  const all = new Promise<void>((r) => resolve = r);
  return {
    all,
    tick() {
      if (++done === n) resolve();
    },
  };
}

Deno.test("a queue's concurrency limit holds across two workers on two server instances", opts, async () => {
  const a = await startTestServer({ redis: true });
  const b = await startTestServer({ redis: true, peerOf: a });
  const { admin, workerKey } = await credentials(a);
  const as = bearer(admin);
  const LIMIT = 3;
  const TASKS = 30;
  let running = 0;
  let most = 0;
  const ended = counter(TASKS);
  // The handler's own overlap counter: how many attempts run at once, across both workers.
  const hold: Handler = async (_payload, ctx) => {
    most = Math.max(most, ++running);
    try {
      // Work that takes a while, so attempts would overlap were there no limit.
      await ctx.clock.sleep(20, ctx.signal);
    } finally {
      running--;
      ended.tick();
    }
  };
  const workers = [
    await startWorker(a, workerKey, "limited", 10, hold),
    await startWorker(b, workerKey, "limited", 10, hold),
  ];
  try {
    const tasksOfA = createClient(TaskService, a.grpc());
    const { queue } = await tasksOfA.configureQueue({ queue: "limited", concurrencyLimit: LIMIT }, as);
    assert.equal(queue?.concurrencyLimit, LIMIT);
    const tasksOfB = createClient(TaskService, b.grpc());
    await tasksOfB.enqueueBatch({
      tasks: Array.from({ length: TASKS }, () => ({ queue: "limited", type: "hold" })),
    }, as);
    await ended.all;
    assert.ok(most <= LIMIT, `${most} attempts ran at once; the limit is ${LIMIT}`);
    assert.equal(most, LIMIT, "the limit was reached, not merely respected by slow workers");
    const listed = (await tasksOfB.listQueues({}, as)).queues.find((q) => q.name === "limited");
    assert.equal(listed?.concurrencyLimit, LIMIT, "the other instance shows the limit");
  } finally {
    for (const w of workers) await w.stop();
    await b.close();
    await a.close();
  }
});

Deno.test("a concurrency limit holds in embedded mode (the in-memory broker) too", opts, async () => {
  const server = await startTestServer();
  const { admin, workerKey } = await credentials(server);
  const as = bearer(admin);
  const TASKS = 20;
  let running = 0;
  let most = 0;
  const ended = counter(TASKS);
  const hold: Handler = async (_payload, ctx) => {
    most = Math.max(most, ++running);
    try {
      await ctx.clock.sleep(20, ctx.signal);
    } finally {
      running--;
      ended.tick();
    }
  };
  const workers = [
    await startWorker(server, workerKey, "solo", 10, hold),
    await startWorker(server, workerKey, "solo", 10, hold),
  ];
  try {
    const tasks = createClient(TaskService, server.grpc());
    await tasks.configureQueue({ queue: "solo", concurrencyLimit: 2 }, as);
    await tasks.enqueueBatch({
      tasks: Array.from({ length: TASKS }, () => ({ queue: "solo", type: "hold" })),
    }, as);
    await ended.all;
    assert.equal(most, 2, `${most} attempts ran at once; the limit is 2`);
  } finally {
    for (const w of workers) await w.stop();
    await server.close();
  }
});

Deno.test("a limit group's concurrency holds across queues and instances", opts, async () => {
  const a = await startTestServer({ redis: true });
  const b = await startTestServer({ redis: true, peerOf: a });
  const { admin, workerKey } = await credentials(a);
  const as = bearer(admin);
  const TASKS = 20;
  let running = 0;
  let most = 0;
  const ended = counter(TASKS);
  const hold: Handler = async (_payload, ctx) => {
    most = Math.max(most, ++running);
    try {
      await ctx.clock.sleep(20, ctx.signal);
    } finally {
      running--;
      ended.tick();
    }
  };
  const workers = [
    await startWorker(a, workerKey, "mails-a", 10, hold),
    await startWorker(b, workerKey, "mails-b", 10, hold),
  ];
  try {
    const tasks = createClient(TaskService, a.grpc());
    const { group } = await tasks.configureLimitGroup({ group: "example.org", concurrencyLimit: 2 }, as);
    assert.deepEqual([group?.name, group?.concurrencyLimit], ["example.org", 2]);
    await tasks.enqueueBatch({
      tasks: Array.from({ length: TASKS }, (_, i) => ({
        queue: i % 2 ? "mails-a" : "mails-b",
        type: "hold",
        limitGroup: "example.org",
      })),
    }, as);
    await ended.all;
    assert.equal(most, 2, `${most} of the group's attempts ran at once; its limit is 2`);
    const { groups } = await createClient(TaskService, b.grpc()).listLimitGroups({}, as);
    assert.deepEqual(groups.map((g) => [g.name, g.concurrencyLimit]), [["example.org", 2]]);
  } finally {
    for (const w of workers) await w.stop();
    await b.close();
    await a.close();
  }
});

Deno.test("a queue's rate limit holds within 10 % over a window", opts, async () => {
  const a = await startTestServer({ redis: true });
  const b = await startTestServer({ redis: true, peerOf: a });
  const { admin, workerKey } = await credentials(a);
  const as = bearer(admin);
  const RATE = 20;
  const BURST = 10;
  const WINDOW_MS = 2_500;
  const starts: number[] = [];
  let stopped = false;
  const windowOver = Promise.withResolvers<void>();
  // Not a measure of speed: the handler notes when each attempt started (wall time), and
  // the test counts the starts within one window after the first.
  const hold: Handler = () => {
    const now = performance.now();
    starts.push(now);
    if (!stopped && now - starts[0] > WINDOW_MS) windowOver.resolve();
  };
  const workers = [
    await startWorker(a, workerKey, "paced", 20, hold),
    await startWorker(b, workerKey, "paced", 20, hold),
  ];
  try {
    const tasks = createClient(TaskService, a.grpc());
    await tasks.configureQueue({ queue: "paced", rateLimitPerSecond: RATE, rateLimitBurst: BURST }, as);
    // More than the window can start, so the queue never runs dry while it is measured.
    await tasks.enqueueBatch(
      { tasks: Array.from({ length: 150 }, () => ({ queue: "paced", type: "hold" })) },
      as,
    );
    await windowOver.promise;
    stopped = true;
    const inWindow = starts.filter((t) => t - starts[0] <= WINDOW_MS).length;
    // The burst at once, then the rate.
    const expected = BURST + RATE * WINDOW_MS / 1000;
    assert.ok(
      Math.abs(inWindow - expected) <= expected * 0.1,
      `${inWindow} starts in ${WINDOW_MS} ms; the limit allows ${expected} (±10 %)`,
    );
    await tasks.pauseQueue({ queue: "paced" }, as);
  } finally {
    for (const w of workers) await w.stop();
    await b.close();
    await a.close();
  }
});

Deno.test("limits survive a broker rebuild after its keys were flushed", opts, async () => {
  const a = await startTestServer({ redis: true });
  const { admin } = await credentials(a);
  const as = bearer(admin);
  const raw = new Redis(TEST_REDIS_URL);
  const rt = tasksOf(a.app.runtimes);
  try {
    const tasks = createClient(TaskService, a.grpc());
    await tasks.configureQueue({ queue: "kept", concurrencyLimit: 1 }, as);
    await tasks.configureLimitGroup({ group: "camp-7", concurrencyLimit: 1 }, as);

    // What FLUSHALL does, to this server's keys only; then the rebuild the promoter would run.
    const keys = await raw.keys(`${a.redisPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    assert.equal(await internalsForTests(rt).broker.needsRebuild(), true);
    await rt.rebuildIfNeeded();

    await tasks.enqueueBatch({
      tasks: [
        { queue: "kept", type: "noop", priority: 9 },
        { queue: "kept", type: "noop" },
        { queue: "other", type: "noop", limitGroup: "camp-7", priority: 9 },
        { queue: "other", type: "noop", limitGroup: "camp-7" },
      ],
    }, as);
    // A worker with room for everything, claimed straight from the broker: the limits cap it.
    const claim = (queue: string) =>
      internalsForTests(rt).broker.claim({
        queues: [queue],
        max: 10,
        workerId: "probe",
        leaseTtlMs: 60_000,
        now: rt.clock.now(),
      });
    assert.equal((await claim("kept")).length, 1, "the queue's concurrency limit came back");
    assert.equal((await claim("other")).length, 1, "the group's concurrency limit came back");
    assert.equal(await internalsForTests(rt).broker.groupRunning("camp-7"), 1);
    const { queues } = await tasks.listQueues({}, as);
    assert.equal(queues.find((q) => q.name === "kept")?.concurrencyLimit, 1);
  } finally {
    raw.disconnect();
    await a.close();
  }
});
