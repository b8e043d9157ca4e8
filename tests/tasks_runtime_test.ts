/**
 * The task runtime end to end over the real server, on both brokers (Redis and
 * embedded), with raw protocol workers and an injected clock: ordering, credits,
 * delays, retries and dead letters, idempotency, pause/resume, cancel, dead and
 * silent workers with fenced leases, and bad input.
 */
import { internalsForTests } from "../server/tasks/runtime.ts";
import assert from "node:assert/strict";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { tasksOf } from "../server/runtimes.ts";
import { bearer, credentials, openRawWorker, type RawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";
import { type WorkerInfo, WorkerService, WorkerState } from "../gen/taskmesh/tasks/v1/worker_pb.ts";

/** Re-checks after each server round trip, up to a bound; no timers. */
async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 500): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
  }
  throw new Error(`${what}: never happened`);
}

const enc = new TextEncoder();
const noBackoff = { initialDelay: durationFromMs(0), maxDelay: durationFromMs(0), multiplier: 1 };
const invalidArg = (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument;

for (const mode of ["embedded", "redis"] as const) {
  Deno.test(`task runtime over the real server (${mode} broker)`, {
    sanitizeOps: false,
    sanitizeResources: false,
  }, async (t) => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const server = await startTestServer({
      redis: mode === "redis",
      clock,
      env: { TASKMESH_WORKER_HEARTBEAT_MS: "1000", TASKMESH_TASKS_TICK_MS: "100" },
    });
    const workers: RawWorker[] = [];
    // The loops run on the manual clock too; steps drive them directly so no step races a loop.
    const rt = tasksOf(server.app.runtimes);
    try {
      const { admin, workerKey } = await credentials(server);
      const tasks = createClient(TaskService, server.grpc());
      const workersClient = createClient(WorkerService, server.grpc());
      const as = bearer(admin);
      const worker = async (queues: string[], concurrency: number, id: string = crypto.randomUUID()) => {
        const w = openRawWorker(server.grpc(), workerKey);
        workers.push(w);
        w.send({ case: "hello", value: { workerId: id, queues, concurrency, version: "test/1" } });
        const welcome = await w.nextOf("welcome");
        assert.equal(
          Number(welcome.leaseTtl?.seconds ?? 0) * 1000 + (welcome.leaseTtl?.nanos ?? 0) / 1e6,
          2000,
        );
        return w;
      };
      const enqueue = (queue: string, extra: Record<string, unknown> = {}) =>
        tasks.enqueue({
          task: { queue, type: "noop", payload: enc.encode("{}"), backoff: noBackoff, ...extra },
        }, as);
      const ok = (w: RawWorker, taskId: string, leaseId: string) =>
        w.send({
          case: "result",
          value: { taskId, leaseId, outcome: { case: "output", value: enc.encode('"done"') } },
        });
      const state = async (id: string) => (await tasks.getTask({ id }, as)).task!.state;

      await t.step("a task runs on a worker and its attempt is recorded", async () => {
        const { task } = await enqueue("q1");
        const w = await worker(["q1"], 2, "worker-one");
        const assign = await w.nextOf("assign");
        assert.equal(assign.task?.id, task!.id);
        assert.equal(assign.attempt, 1);
        ok(w, task!.id, assign.leaseId);
        assert.equal((await w.nextOf("resultAck")).accepted, true);
        const got = (await tasks.getTask({ id: task!.id }, as)).task!;
        assert.equal(got.state, TaskState.SUCCEEDED);
        assert.equal(got.attempts[0].workerId, "worker-one");
        assert.equal(new TextDecoder().decode(got.output), '"done"');
      });

      await t.step("priority first, then FIFO; never more in flight than the worker's slots", async () => {
        const low1 = (await enqueue("q2", { priority: 0 })).task!.id;
        const high = (await enqueue("q2", { priority: 5 })).task!.id;
        const low2 = (await enqueue("q2", { priority: 0 })).task!.id;
        const w = await worker(["q2"], 1);
        const seen: string[] = [];
        for (let i = 0; i < 3; i++) {
          const a = await w.nextOf("assign");
          seen.push(a.task!.id);
          // Its start is recorded once it has run a moment (START_RECORD_MS), never a second task's.
          await until(
            "one slot, one task in flight",
            async () =>
              (await tasks.listTasks({ queue: "q2", state: TaskState.RUNNING }, as)).tasks.length === 1 ||
              undefined,
            5000,
          );
          ok(w, a.task!.id, a.leaseId);
          await w.nextOf("resultAck");
        }
        assert.deepEqual(seen, [high, low1, low2]);
      });

      await t.step("a delayed task starts only when its time comes", async () => {
        const w = await worker(["q3"], 1);
        const { task } = await enqueue("q3", { delay: durationFromMs(5000) });
        assert.equal(task!.state, TaskState.SCHEDULED);
        clock.advance(4999);
        await rt.tick();
        assert.equal(await state(task!.id), TaskState.SCHEDULED, "not before its time");
        clock.advance(1);
        await rt.tick();
        const a = await w.nextOf("assign");
        assert.equal(a.task?.id, task!.id);
        ok(w, task!.id, a.leaseId);
        await w.nextOf("resultAck");
      });

      await t.step(
        "retryable failures retry up to max attempts, then the task is a dead letter",
        async () => {
          const { task } = await enqueue("q4", { maxAttempts: 2 });
          const w = await worker(["q4"], 1);
          for (const attempt of [1, 2]) {
            const a = await w.nextOf("assign");
            assert.equal(a.attempt, attempt);
            w.send({
              case: "result",
              value: {
                taskId: a.task!.id,
                leaseId: a.leaseId,
                outcome: { case: "error", value: { message: "flaky", code: "x", retryable: true } },
              },
            });
            await w.nextOf("resultAck");
            clock.advance(100);
          }
          assert.equal(await state(task!.id), TaskState.DEAD);
          const dead = await tasks.listDeadLetters({ queue: "q4" }, as);
          assert.deepEqual(dead.tasks.map((d) => d.id), [task!.id]);
          assert.equal((await tasks.requeueDeadLetters({ queue: "q4", all: true }, as)).requeued, 1n);
          const again = await w.nextOf("assign");
          assert.equal(again.task?.id, task!.id);
          ok(w, task!.id, again.leaseId);
          await w.nextOf("resultAck");
          assert.equal(await state(task!.id), TaskState.SUCCEEDED);
        },
      );

      await t.step("a permanent error skips the remaining attempts", async () => {
        const { task } = await enqueue("q5", { maxAttempts: 5 });
        const w = await worker(["q5"], 1);
        const a = await w.nextOf("assign");
        w.send({
          case: "result",
          value: {
            taskId: a.task!.id,
            leaseId: a.leaseId,
            outcome: { case: "error", value: { message: "bad payload", code: "invalid", retryable: false } },
          },
        });
        await w.nextOf("resultAck");
        const got = (await tasks.getTask({ id: task!.id }, as)).task!;
        assert.equal(got.state, TaskState.DEAD);
        assert.equal(got.attemptCount, 1);
        assert.equal(got.lastError?.message, "bad payload");
      });

      await t.step("the same idempotency key returns the first task", async () => {
        const first = await enqueue("q6", { idempotencyKey: "order-42" });
        const second = await enqueue("q6", { idempotencyKey: "order-42" });
        assert.equal(second.duplicate, true);
        assert.equal(second.task?.id, first.task?.id);
        assert.equal((await tasks.listTasks({ queue: "q6" }, as)).tasks.length, 1);
      });

      await t.step("EnqueueBatch is all or nothing, and capped", async () => {
        const spec = (queue: string, extra: Record<string, unknown> = {}) => ({
          queue,
          type: "noop",
          payload: enc.encode("{}"),
          ...extra,
        });
        const stored = async (queue: string) => (await tasks.listTasks({ queue }, as)).tasks.length;
        // Refused before anything is written: one bad entry, or one entry too many.
        await assert.rejects(
          tasks.enqueueBatch({ tasks: [spec("qb"), spec("qb"), spec("Bad Queue")] }, as),
          (e: unknown) => invalidArg(e) && /tasks\[2\]\.queue/.test((e as Error).message),
        );
        await assert.rejects(
          tasks.enqueueBatch({ tasks: Array.from({ length: 1001 }, () => spec("qb")) }, as),
          (e: unknown) => invalidArg(e) && /1–1000 tasks/.test((e as Error).message),
        );
        // Refused inside the transaction: the second entry depends on a task that does not exist,
        // so the first, already inserted, is rolled back with it.
        await assert.rejects(
          tasks.enqueueBatch({ tasks: [spec("qb"), spec("qb", { dependsOn: [crypto.randomUUID()] })] }, as),
          (e: unknown) => invalidArg(e) && /tasks\[1\]\.depends_on/.test((e as Error).message),
        );
        assert.equal(await stored("qb"), 0, "nothing of a refused batch is stored");
        const { tasks: made } = await tasks.enqueueBatch(
          { tasks: Array.from({ length: 1000 }, (_, i) => spec("qb", { labels: { n: String(i) } })) },
          as,
        );
        assert.equal(made.length, 1000, "a full batch is accepted");
        assert.deepEqual(made.slice(0, 3).map((m) => m.spec?.labels.n), ["0", "1", "2"], "in order");
        // A page holds at most 1000; the count is what matters here.
        assert.equal((await tasks.listTasks({ queue: "qb", pageSize: 1000 }, as)).tasks.length, 1000);
      });

      await t.step("a paused queue assigns nothing until resumed", async () => {
        await tasks.pauseQueue({ queue: "q7" }, as);
        const held = (await enqueue("q7")).task!.id;
        const other = (await enqueue("q8")).task!.id;
        const w = await worker(["q7", "q8"], 1);
        // The q7 task is older and would come first: the paused queue is skipped.
        const a = await w.nextOf("assign");
        assert.equal(a.task?.id, other);
        ok(w, other, a.leaseId);
        await w.nextOf("resultAck");
        assert.equal(await state(held), TaskState.QUEUED);
        const resumed = await tasks.resumeQueue({ queue: "q7" }, as);
        assert.equal(resumed.queue?.paused, false);
        const b = await w.nextOf("assign");
        assert.equal(b.task?.id, held);
        ok(w, held, b.leaseId);
        await w.nextOf("resultAck");
      });

      await t.step("cancel: a queued task never runs; a running one is cancelled on its worker", async () => {
        await tasks.pauseQueue({ queue: "q9" }, as);
        const queued = (await enqueue("q9")).task!.id;
        assert.equal(
          (await tasks.cancelTask({ id: queued, reason: "changed my mind" }, as)).task?.state,
          TaskState.CANCELLED,
        );
        await tasks.resumeQueue({ queue: "q9" }, as);
        const running = (await enqueue("q9")).task!.id;
        const w = await worker(["q9"], 2);
        const a = await w.nextOf("assign");
        assert.equal(a.task?.id, running, "the cancelled task was never assigned");
        await tasks.cancelTask({ id: running, reason: "stop" }, as);
        const cancel = await w.nextOf("cancel");
        assert.deepEqual([cancel.taskId, cancel.reason], [running, "cancelled"]);
        ok(w, running, a.leaseId);
        assert.equal((await w.nextOf("resultAck")).accepted, false);
        assert.equal(await state(running), TaskState.CANCELLED);
        await assert.rejects(
          tasks.cancelTask({ id: running }, as),
          (e: unknown) => e instanceof ConnectError && e.code === Code.FailedPrecondition,
        );
      });

      await t.step("a dead worker's task runs again elsewhere and its late result is refused", async () => {
        const { task } = await enqueue("q10");
        const doomed = await worker(["q10"], 1, "doomed");
        const first = await doomed.nextOf("assign");
        const rescuer = await worker(["q10"], 1, "rescuer");
        doomed.kill();
        const second = await rescuer.nextOf("assign");
        assert.equal(second.task?.id, task!.id);
        assert.equal(second.attempt, 2);
        // A result quoting the dead worker's lease, even on a live connection, is refused.
        ok(rescuer, task!.id, first.leaseId);
        assert.equal((await rescuer.nextOf("resultAck")).accepted, false);
        ok(rescuer, task!.id, second.leaseId);
        assert.equal((await rescuer.nextOf("resultAck")).accepted, true);
        const got = (await tasks.getTask({ id: task!.id }, as)).task!;
        assert.equal(got.state, TaskState.SUCCEEDED);
        assert.deepEqual(got.attempts.map((x) => x.workerId), ["doomed", "rescuer"]);
      });

      await t.step("a silent worker loses its lease within two heartbeat intervals", async () => {
        const { task } = await enqueue("q14");
        const silent = await worker(["q14"], 1, "silent");
        const a = await silent.nextOf("assign");
        // One heartbeat extends the lease to now + 2 intervals; then the worker says nothing more.
        clock.advance(500);
        silent.send({
          case: "heartbeat",
          value: { leases: [{ taskId: task!.id, leaseId: a.leaseId }], load: 1 },
        });
        await until(
          "the heartbeat is taken",
          async () =>
            (await workersClient.listWorkers({ queue: "q14" }, as)).workers.find((w) =>
              w.id === "silent" && timestampMs(w.lastHeartbeatTime!) === clock.now()
            ),
        );
        clock.advance(1999);
        assert.equal(await rt.reap(), 0, "still within its lease");
        // Advancing the clock also wakes the runtime's own reaper loop: either may take the lease.
        clock.advance(1);
        await rt.reap();
        const cancel = await silent.nextOf("cancel");
        assert.deepEqual([cancel.taskId, cancel.reason], [task!.id, "lease_lost"]);
        // Back to its queue through the retry path: scheduled after its (zero) backoff.
        await rt.tick();
        const got = (await tasks.getTask({ id: task!.id }, as)).task!;
        assert.equal(got.state, TaskState.SCHEDULED);
        assert.equal(got.attemptCount, 1, "the lost attempt counts");
        const rescuer = await worker(["q14"], 1, "rescuer-14");
        const b = await rescuer.nextOf("assign");
        assert.equal(b.attempt, 2);
        ok(rescuer, task!.id, b.leaseId);
        assert.equal((await rescuer.nextOf("resultAck")).accepted, true);
      });

      await t.step("a running task whose broker lease vanished is swept back to its queue", async () => {
        const { task } = await enqueue("q15");
        const w = await worker(["q15"], 1, "orphaned");
        await w.nextOf("assign");
        await until(
          "its start is recorded",
          async () => await state(task!.id) === TaskState.RUNNING || undefined,
          5000,
        );
        // A server that took the expired lease and died before telling Postgres: the broker has
        // no lease, Postgres still says running, and nothing would ever expire it.
        const taken = await internalsForTests(rt).broker.takeExpired(clock.now() + 3_600_000, 500);
        assert.ok(taken.some((l) => l.taskId === task!.id));
        await internalsForTests(rt).broker.restoreLeases(taken.filter((l) => l.taskId !== task!.id));
        assert.equal(await rt.reap(), 0);
        clock.advance(2001);
        assert.ok(await rt.sweep() >= 1);
        assert.equal(await rt.sweep() >= 1, true, "a second sweep changes nothing and is harmless");
        clock.advance(2000);
        await rt.reap();
        assert.equal((await w.nextOf("cancel")).taskId, task!.id);
        await rt.tick();
        assert.equal(await state(task!.id), TaskState.SCHEDULED);
        const rescuer = await worker(["q15"], 1, "rescuer-15");
        const b = await rescuer.nextOf("assign");
        assert.equal(b.task?.id, task!.id);
        ok(rescuer, task!.id, b.leaseId);
        assert.equal((await rescuer.nextOf("resultAck")).accepted, true);
      });

      await t.step("WatchWorkers sends a snapshot when a worker connects and when it drains", async () => {
        const watch = workersClient.watchWorkers({ queue: "q16" }, as)[Symbol.asyncIterator]();
        const snapshot = async (): Promise<WorkerInfo[]> => {
          const next = await watch.next();
          assert.ok(!next.done, "the stream stays open");
          return next.value.workers;
        };
        assert.deepEqual(await snapshot(), []);
        await worker(["q16"], 3, "watched");
        const joined = await snapshot();
        assert.deepEqual(joined.map((w) => [w.id, w.concurrency, w.state]), [[
          "watched",
          3,
          WorkerState.ACTIVE,
        ]]);
        await workersClient.drainWorker({ id: "watched" }, as);
        const drained = await snapshot();
        assert.deepEqual(drained.map((w) => w.state), [WorkerState.DRAINING]);
        await watch.return?.();
      });

      await t.step("bad input gets the right code and changes nothing", async () => {
        await assert.rejects(enqueue("Not A Queue!"), invalidArg);
        await assert.rejects(enqueue("q12", { payload: new Uint8Array(1024 * 1024 + 1) }), invalidArg);
        await assert.rejects(enqueue("q12", { delay: { seconds: -5n, nanos: 0 } }), invalidArg);
        await assert.rejects(tasks.getTask({ id: "nope" }, as), invalidArg);
        await assert.rejects(
          tasks.getTask({ id: crypto.randomUUID() }, as),
          (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound,
        );
        assert.equal((await tasks.listTasks({ queue: "q12" }, as)).tasks.length, 0);
        // A result for a task the worker does not hold.
        const { task } = await enqueue("q13");
        await tasks.pauseQueue({ queue: "q13" }, as);
        const w = await worker(["q12"], 1);
        ok(w, task!.id, crypto.randomUUID());
        const ack = await w.nextOf("resultAck");
        assert.equal(ack.accepted, false);
        assert.equal(await state(task!.id), TaskState.QUEUED);
      });
    } finally {
      for (const w of workers) w.kill();
      await server.close();
    }
  });
}
