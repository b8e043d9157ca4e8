/**
 * Defects outside clients found in the task runtime, each over a real server (Postgres
 * and Redis) with a raw worker and one manual clock: WatchTasks' previous state of a
 * delayed task, attempt numbers after RetryTask, a timed-out attempt's outcome, and how a
 * worker that goes away is logged and counted.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import {
  AttemptOutcome,
  TaskService,
  TaskState,
  type WatchTasksResponse,
} from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../server/clock.ts";
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

Deno.test("task runtime defects found by outside clients", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const clock = new ManualClock(Date.now());
  // Leases that outlive the steps' clock jumps: no step here is about heartbeats.
  const server = await startTestServer({
    redis: true,
    clock,
    env: { TASKMESH_WORKER_HEARTBEAT_MS: "10000" },
  });
  const { admin, workerKey } = await credentials(server);
  const as = bearer(admin);
  const tasks = createClient(TaskService, server.grpc());
  const worker = openRawWorker(server.grpc(), workerKey);
  try {
    worker.send({ case: "hello", value: { workerId: "fixes", queues: ["fixes"], concurrency: 4 } });
    await worker.nextOf("welcome");

    await t.step("a delayed task that starts was SCHEDULED before, says WatchTasks", async () => {
      const watch = new AbortController();
      const events = tasks.watchTasks({ queue: "fixes" }, { ...as, signal: watch.signal })
        [Symbol.asyncIterator]();
      const next = async (): Promise<WatchTasksResponse> => (await events.next()).value;
      try {
        // The watch is live once it reports a task enqueued after it opened.
        const { task: probe } = await tasks.enqueue({
          task: { queue: "fixes", type: "noop", delay: { seconds: 3600n } },
        }, as);
        while ((await next()).task?.id !== probe!.id);
        const { task } = await tasks.enqueue(
          { task: { queue: "fixes", type: "noop", delay: { seconds: 10n } } },
          as,
        );
        assert.equal(task?.state, TaskState.SCHEDULED);
        clock.advance(10_000);
        const assign = await worker.nextOf("assign");
        assert.equal(assign.task?.id, task!.id);
        let started: WatchTasksResponse;
        do started = await next(); while (
          !(started.task?.id === task!.id && started.task.state === TaskState.RUNNING)
        );
        assert.equal(started.previousState, TaskState.SCHEDULED);
        worker.send({
          case: "result",
          value: {
            taskId: task!.id,
            leaseId: assign.leaseId,
            outcome: { case: "output", value: new Uint8Array() },
          },
        });
        assert.equal((await worker.nextOf("resultAck")).accepted, true);
        await tasks.cancelTask({ id: probe!.id }, as);
      } finally {
        watch.abort();
      }
    });

    await t.step(
      "after RetryTask, the attempt count and Assign's attempt follow the attempts' numbers",
      async () => {
        const { task } = await tasks.enqueue({ task: { queue: "fixes", type: "noop" } }, as);
        const first = await worker.nextOf("assign");
        assert.equal(first.attempt, 1);
        worker.send({
          case: "result",
          value: {
            taskId: task!.id,
            leaseId: first.leaseId,
            outcome: { case: "error", value: { message: "bad input", code: "bad", retryable: false } },
          },
        });
        assert.equal((await worker.nextOf("resultAck")).accepted, true);
        await until(
          "dead",
          async () => (await tasks.getTask({ id: task!.id }, as)).task?.state === TaskState.DEAD || undefined,
        );
        await tasks.retryTask({ id: task!.id }, as);
        const second = await worker.nextOf("assign");
        assert.equal(second.task?.id, task!.id);
        assert.equal(second.attempt, 2, "Assign numbers the attempt as GetTask will");
        // Its start is recorded once it has run a moment (or with its finish): then GetTask shows it.
        const got = await until("the second attempt's start is recorded", async () => {
          const { task: now } = await tasks.getTask({ id: task!.id }, as);
          return now!.attempts.length === 2 ? now : undefined;
        });
        assert.deepEqual(
          got!.attempts.map((a) => a.number),
          [1, 2],
        );
        assert.equal(got!.attemptCount, 2);
        worker.send({
          case: "result",
          value: {
            taskId: task!.id,
            leaseId: second.leaseId,
            outcome: { case: "output", value: new Uint8Array() },
          },
        });
        assert.equal((await worker.nextOf("resultAck")).accepted, true);
      },
    );

    await t.step(
      "an attempt aborted at its deadline ends TIMED_OUT; a handler's early 'timeout' is FAILED",
      async () => {
        const { task } = await tasks.enqueue(
          { task: { queue: "fixes", type: "noop", timeout: { seconds: 5n }, maxAttempts: 3 } },
          as,
        );
        const first = await worker.nextOf("assign");
        // The worker's own error with that code, well before the deadline: a plain failure.
        worker.send({
          case: "result",
          value: {
            taskId: task!.id,
            leaseId: first.leaseId,
            outcome: {
              case: "error",
              value: { message: "upstream timeout", code: "timeout", retryable: true },
            },
          },
        });
        assert.equal((await worker.nextOf("resultAck")).accepted, true);
        // Its retry: advance past any backoff, then let it run to its deadline, as the SDK does.
        clock.advance(5_000);
        const second = await worker.nextOf("assign");
        clock.advance(5_000);
        worker.send({
          case: "result",
          value: {
            taskId: task!.id,
            leaseId: second.leaseId,
            outcome: {
              case: "error",
              value: { message: "attempt ran past its deadline", code: "timeout", retryable: true },
            },
          },
        });
        assert.equal((await worker.nextOf("resultAck")).accepted, true);
        const { task: got } = await tasks.getTask({ id: task!.id }, as);
        assert.deepEqual(got!.attempts.map((a) => a.outcome), [
          AttemptOutcome.FAILED,
          AttemptOutcome.TIMED_OUT,
        ]);
        await tasks.cancelTask({ id: task!.id }, as);
      },
    );

    await t.step(
      "a worker that disconnects is logged at info and counted canceled, not internal",
      async () => {
        const gone = openRawWorker(server.grpc(), workerKey);
        gone.send({ case: "hello", value: { workerId: "gone", queues: ["elsewhere"], concurrency: 1 } });
        await gone.nextOf("welcome");
        gone.kill();
        const line = await until("the stream's log line", async () => {
          await tasks.listQueues({}, as);
          return server.log.lines.find((l) => l.method === "taskmesh.tasks.v1.WorkerService/Connect");
        });
        assert.equal(line.level, "info");
        assert.equal(line.code, "canceled");
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(
          metrics,
          /taskmesh_rpc_total\{code="canceled",method="taskmesh.tasks.v1.WorkerService\/Connect"\} 1/,
        );
        assert.doesNotMatch(metrics, /code="internal",method="taskmesh.tasks.v1.WorkerService\/Connect"/);
      },
    );
  } finally {
    worker.kill();
    await server.close();
  }
});
