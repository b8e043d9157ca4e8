/**
 * Real worker processes against the real server on Redis: a worker killed with
 * SIGKILL mid-task, Redis losing everything in the middle of 2,000 tasks, and a
 * worker draining on SIGTERM.
 */
import assert from "node:assert/strict";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { bearer, credentials, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer, TEST_REDIS_URL, type TestServer } from "./_support/server.ts";
import { until } from "./_support/until.ts";

const WORKER = new URL("../worker/main.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const opts = { sanitizeOps: false, sanitizeResources: false };

function spawnWorker(server: TestServer, apiKey: string, id: string, queue: string, concurrency: number) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      WORKER,
      `--url=${server.url}`,
      `--queues=${queue}`,
      `--concurrency=${concurrency}`,
      `--worker-id=${id}`,
    ],
    env: { TASKMESH_API_KEY: apiKey, TASKMESH_LOG_LEVEL: "warn" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test(
  "a worker killed with SIGKILL mid-task: the task runs again elsewhere; its late result is refused",
  opts,
  async () => {
    const server = await startTestServer({ redis: true, env: { TASKMESH_WORKER_HEARTBEAT_MS: "500" } });
    const { admin, workerKey } = await credentials(server);
    const tasks = createClient(TaskService, server.grpc());
    const doomed = spawnWorker(server, workerKey, "doomed", "slow", 1);
    let rescuer: Deno.ChildProcess | undefined;
    try {
      const { task } = await tasks.enqueue({
        // A retry waits its backoff (full jitter under the initial delay): 1 ms, so what is timed is
        // the server noticing the dead stream and handing the task out again, not a random delay.
        task: {
          queue: "slow",
          type: "sleep",
          payload: enc.encode('{"ms": 1500}'),
          maxAttempts: 3,
          backoff: { initialDelay: { nanos: 1_000_000 } },
        },
      }, bearer(admin));
      const id = task!.id;
      const first = await until("the first worker starts the task", async () => {
        const t = (await tasks.getTask({ id }, bearer(admin))).task!;
        return t.state === TaskState.RUNNING ? t.attempts[0] : undefined;
      });
      rescuer = spawnWorker(server, workerKey, "rescuer", "slow", 1);
      doomed.kill("SIGKILL");
      const killedAt = Date.now();
      await doomed.status;
      const second = await until("the task runs again", async () => {
        const t = (await tasks.getTask({ id }, bearer(admin))).task!;
        return t.attempts.length === 2 ? t.attempts[1] : undefined;
      });
      assert.equal(first.workerId, "doomed");
      assert.equal(second.workerId, "rescuer");
      // Within two heartbeat intervals (2 × 500 ms) of the kill.
      assert.ok(
        timestampMs(second.startTime!) - killedAt < 1000,
        `requeued after ${timestampMs(second.startTime!) - killedAt} ms`,
      );
      // The dead worker's result, arriving late over a second connection, is refused.
      const late = openRawWorker(server.grpc(), workerKey);
      late.send({ case: "hello", value: { workerId: "doomed-again", queues: ["other"], concurrency: 1 } });
      await late.nextOf("welcome");
      late.send({
        case: "result",
        value: { taskId: id, leaseId: first.leaseId, outcome: { case: "output", value: enc.encode("{}") } },
      });
      assert.equal((await late.nextOf("resultAck")).accepted, false);
      late.kill();
      const done = await until("the rescuer finishes", async () => {
        const t = (await tasks.getTask({ id }, bearer(admin))).task!;
        return t.state === TaskState.SUCCEEDED ? t : undefined;
      }, 20_000);
      assert.equal(done.attempts.filter((a) => a.endTime && !a.error).length, 1, "completed exactly once");
    } finally {
      try {
        doomed.kill("SIGKILL");
      } catch { /* gone */ }
      rescuer?.kill("SIGKILL");
      await rescuer?.status;
      await server.close();
    }
  },
);

Deno.test(
  "Redis loses everything in the middle of 2,000 tasks: every task completes exactly once",
  opts,
  async () => {
    const server = await startTestServer({ redis: true, env: { TASKMESH_TASKS_TICK_MS: "50" } });
    const { admin, workerKey } = await credentials(server);
    const tasks = createClient(TaskService, server.grpc());
    const workers = [
      spawnWorker(server, workerKey, "w1", "bulk", 50),
      spawnWorker(server, workerKey, "w2", "bulk", 50),
    ];
    const admin2 = new Redis(TEST_REDIS_URL);
    try {
      const ids: string[] = [];
      for (let batch = 0; batch < 4; batch++) {
        const specs = Array.from(
          { length: 500 },
          () => ({ queue: "bulk", type: "noop", payload: enc.encode("{}") }),
        );
        ids.push(...(await tasks.enqueueBatch({ tasks: specs }, bearer(admin))).tasks.map((t) => t.id));
        if (batch === 1) await admin2.flushall();
      }
      await until("every task succeeds", async () => {
        const page = await tasks.listTasks(
          { queue: "bulk", state: TaskState.SUCCEEDED, pageSize: 1000 },
          bearer(admin),
        );
        const rest = page.nextPageToken
          ? await tasks.listTasks({
            queue: "bulk",
            state: TaskState.SUCCEEDED,
            pageSize: 1000,
            pageToken: page.nextPageToken,
          }, bearer(admin))
          : { tasks: [] };
        return page.tasks.length + rest.tasks.length === 2000 ? true : undefined;
      }, 100_000);
      const [{ n }] = await server.db.sql<{ n: number }[]>`
      select count(*)::int as n from task_attempts where outcome = 'succeeded'`;
      assert.equal(n, 2000, "one successful attempt per task");
      assert.equal(new Set(ids).size, 2000);
    } finally {
      for (const w of workers) w.kill("SIGKILL");
      await Promise.all(workers.map((w) => w.status));
      admin2.disconnect();
      await server.close();
    }
  },
);

Deno.test("SIGTERM drains a worker: in-flight tasks finish, no new ones are assigned", opts, async () => {
  const server = await startTestServer({ redis: true });
  const { admin, workerKey } = await credentials(server);
  const tasks = createClient(TaskService, server.grpc());
  const worker = spawnWorker(server, workerKey, "drainer", "drain", 2);
  try {
    const specs = Array.from(
      { length: 4 },
      () => ({ queue: "drain", type: "sleep", payload: enc.encode('{"ms": 800}') }),
    );
    const ids = (await tasks.enqueueBatch({ tasks: specs }, bearer(admin))).tasks.map((t) => t.id);
    // Running in Postgres is not enough: the worker must have the tasks, which its progress report shows.
    await until("the worker runs two tasks", async () => {
      const running =
        (await tasks.listTasks({ queue: "drain", state: TaskState.RUNNING }, bearer(admin))).tasks;
      return running.filter((t) => t.progress?.message.startsWith("sleeping")).length === 2
        ? running
        : undefined;
    });
    worker.kill("SIGTERM");
    const { code } = await worker.status;
    assert.equal(code, 0);
    const states = await Promise.all(
      ids.map(async (id) => (await tasks.getTask({ id }, bearer(admin))).task!.state),
    );
    assert.equal(states.filter((s) => s === TaskState.SUCCEEDED).length, 2, "in-flight tasks finished");
    assert.equal(states.filter((s) => s === TaskState.QUEUED).length, 2, "no new task was taken");
  } finally {
    try {
      worker.kill("SIGKILL");
    } catch { /* gone */ }
    await server.close();
  }
});
