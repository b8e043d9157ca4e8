/**
 * Two server instances of one deployment (one Postgres, one Redis, as behind an HTTP/2
 * load balancer): a worker connected to one is listed by the other (still, as silent,
 * when it stops beating), counted for its queue there, and drained from there over its
 * stream on the first, and a task running on it is cancelled from there at once; once its
 * stream ends, neither lists it.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService, WorkerState } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { tasksOf } from "../server/runtimes.ts";
import { bearer, credentials, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

/** Re-asks after each server round trip, up to a bound; no timers. */
async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 2000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
  }
  throw new Error(`${what}: never happened`);
}

/** Resolves with `promise`, or fails once `n` calls of `probe` (server round trips) finished first. */
async function withinRoundTrips<T>(
  promise: Promise<T>,
  probe: () => Promise<unknown>,
  n: number,
): Promise<T> {
  let settled = false;
  const bound = (async () => {
    for (let i = 0; i < n && !settled; i++) await probe();
    if (!settled) throw new Error(`nothing arrived within ${n} round trips`);
  })();
  try {
    return await Promise.race([promise, bound.then(() => promise)]);
  } finally {
    settled = true;
    await bound.catch(() => {});
  }
}

Deno.test("workers across server instances", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  // One clock for both, as instances share the wall clock; steps move it instead of waiting.
  const clock = new ManualClock(Date.now());
  const a = await startTestServer({ redis: true, clock });
  const b = await startTestServer({ redis: true, clock, peerOf: a });
  const { admin, workerKey } = await credentials(a);
  const as = bearer(admin);
  const workersOfB = createClient(WorkerService, b.grpc());
  const tasksOfB = createClient(TaskService, b.grpc());
  const worker = openRawWorker(a.grpc(), workerKey);
  const serverA = tasksOf(a.app.runtimes).serverId;
  const listedOnB = async () => (await workersOfB.listWorkers({}, as)).workers.find((w) => w.id === "roamer");
  try {
    worker.send({
      case: "hello",
      value: {
        workerId: "roamer",
        queues: ["shared"],
        concurrency: 3,
        version: "test/2",
        labels: { zone: "b" },
      },
    });
    const welcome = await worker.nextOf("welcome");
    assert.equal(welcome.serverId, serverA);

    await t.step("the other instance lists the worker, as its own instance last wrote it", async () => {
      const listed = await until("roamer listed on B", listedOnB);
      assert.equal(tasksOf(b.app.runtimes).sessionCount, 0, "B holds no stream itself");
      assert.equal(listed.serverId, serverA);
      assert.deepEqual([listed.queues, listed.concurrency, listed.version], [["shared"], 3, "test/2"]);
      assert.deepEqual(listed.labels, { zone: "b" });
      assert.equal(listed.state, WorkerState.ACTIVE);

      worker.send({ case: "heartbeat", value: { leases: [], load: 0.75 } });
      await until(
        "the heartbeat's load reaches B",
        async () => (await listedOnB())?.load === 0.75 || undefined,
      );
    });

    await t.step("the other instance counts it for its queue", async () => {
      await tasksOfB.pauseQueue({ queue: "shared" }, as);
      const { queues } = await tasksOfB.listQueues({}, as);
      assert.equal(queues.find((q) => q.name === "shared")?.workerCount, 1);
    });

    await t.step("CancelTask on the other instance stops the task on its worker at once", async () => {
      await tasksOfB.resumeQueue({ queue: "shared" }, as);
      const { task } = await tasksOfB.enqueue({ task: { queue: "shared", type: "noop" } }, as);
      const assign = await worker.nextOf("assign");
      assert.equal(assign.task?.id, task!.id);
      await tasksOfB.cancelTask({ id: task!.id, reason: "not needed" }, as);
      // No heartbeat is sent, so only the control message can bring the Cancel; without it this fails
      // after a bounded number of round trips rather than hanging.
      const cancel = await withinRoundTrips(worker.nextOf("cancel"), () => listedOnB(), 500);
      assert.deepEqual([cancel.taskId, cancel.leaseId, cancel.reason], [
        task!.id,
        assign.leaseId,
        "cancelled",
      ]);
      worker.send({
        case: "result",
        value: {
          taskId: task!.id,
          leaseId: assign.leaseId,
          outcome: { case: "error", value: { message: "cancelled", code: "cancelled", retryable: false } },
        },
      });
      assert.equal((await worker.nextOf("resultAck")).accepted, false, "the lease went with the cancel");
    });

    await t.step("a worker that went silent is still listed there, as silent", async () => {
      // Past the registry's staleness: only the owning instance's writer loop keeps the entry.
      clock.advance(tasksOf(b.app.runtimes).registryStaleMs + 1);
      const listed = await until(
        "roamer listed on B as silent",
        async () => {
          const w = await listedOnB();
          return w?.state === WorkerState.SILENT ? w : undefined;
        },
      );
      assert.equal(listed.serverId, serverA);
    });

    const drained = await t.step("DrainWorker on the other instance drains it over its stream", async () => {
      const { worker: answered } = await workersOfB.drainWorker({ id: "roamer" }, as);
      assert.equal(answered?.state, WorkerState.DRAINING);
      const drain = await worker.nextOf("drain");
      assert.ok(drain.deadline, "the drain carries its deadline");
    });

    await t.step("once its stream ends, no instance lists it", async () => {
      // It held nothing, so the drain is complete: A ends the stream (which nothing else would end).
      assert.ok(drained, "the drain step failed, so nothing ends the stream");
      await worker.ended;
      await until("roamer gone from B", async () => (await listedOnB()) === undefined || undefined);
      const onA = await createClient(WorkerService, a.grpc()).listWorkers({}, as);
      assert.equal(onA.workers.some((w) => w.id === "roamer"), false);
      await assert.rejects(
        workersOfB.drainWorker({ id: "roamer" }, as),
        (e: unknown) => e instanceof Error && /not connected/.test(e.message),
      );
    });
  } finally {
    worker.kill();
    await b.close();
    await a.close();
  }
});
