/**
 * Field by field, through real RPCs on a real server and Postgres: the bounds of every
 * interval, duration and time the API accepts, the enum values it knows, the strings it
 * refuses, and the page tokens of every list. Each answer is InvalidArgument naming the
 * field; none is Internal. (tests/validation_sweep_test.ts sweeps every field generically.)
 */
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, DurationSchema, timestampFromMs, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import {
  DependencyCondition,
  TaskService,
  type TaskSpecSchema,
  TaskState,
} from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { encodePageToken } from "../server/kit/paging.ts";
import { bearer, credentials, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";

async function refusal(call: Promise<unknown> | AsyncIterable<unknown>): Promise<ConnectError> {
  try {
    if (Symbol.asyncIterator in call) { for await (const _ of call) break; }
    else await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the call was accepted");
}

/** Asserts InvalidArgument whose message starts with the field's name. */
async function assertInvalid(call: Promise<unknown> | AsyncIterable<unknown>, field: string): Promise<void> {
  const error = await refusal(call);
  assert.equal(error.code, Code.InvalidArgument, `${field}: ${error.code} ${error.rawMessage}`);
  assert.ok(error.rawMessage.startsWith(`${field} `), `names ${field}: ${error.rawMessage}`);
}

async function withServer(fn: (server: TestServer, admin: string, workerKey: string) => Promise<void>) {
  const server = await startTestServer();
  try {
    const { admin, workerKey } = await credentials(server);
    await fn(server, admin, workerKey);
  } finally {
    await server.close();
  }
}

const YEAR_10000 = 253_402_300_800n;
const DAY = 24 * 3600_000;

Deno.test("a Watch interval beyond an hour, or negative, is refused before it can spin the server", async () => {
  await withServer(async (server, admin) => {
    const tasks = createClient(TaskService, server.grpc());
    const workers = createClient(WorkerService, server.grpc());
    const huge = create(DurationSchema, { seconds: 3_000_000n });
    const opts = { ...bearer(admin), signal: AbortSignal.timeout(10_000) };
    await assertInvalid(tasks.watchQueues({ interval: huge }, opts), "interval");
    await assertInvalid(workers.watchWorkers({ interval: huge }, opts), "interval");
    await assertInvalid(tasks.watchQueues({ interval: durationFromMs(-1000) }, opts), "interval");
    await assertInvalid(workers.watchWorkers({ interval: durationFromMs(3600_001) }, opts), "interval");
    // The bounds themselves are accepted: the first snapshot arrives.
    for await (const snapshot of tasks.watchQueues({ interval: durationFromMs(3600_000) }, opts)) {
      assert.ok(Array.isArray(snapshot.queues));
      break;
    }
  });
});

Deno.test("DrainWorker refuses a grace beyond a day, or negative", async () => {
  await withServer(async (server, admin) => {
    const workers = createClient(WorkerService, server.grpc());
    await assertInvalid(
      workers.drainWorker({ id: "w", grace: create(DurationSchema, { seconds: 3_000_000n }) }, bearer(admin)),
      "grace",
    );
    await assertInvalid(workers.drainWorker({ id: "w", grace: durationFromMs(-1) }, bearer(admin)), "grace");
    const gone = await refusal(workers.drainWorker({ id: "w", grace: durationFromMs(DAY) }, bearer(admin)));
    assert.equal(gone.code, Code.NotFound, "a grace of a day is fine: the worker is simply not there");
  });
});

Deno.test("Enqueue: times out of range, malformed durations, NaN and unknown enums name their field", async () => {
  await withServer(async (server, admin) => {
    const tasks = createClient(TaskService, server.grpc());
    const enqueue = (spec: MessageInitShape<typeof TaskSpecSchema>) =>
      tasks.enqueue({ task: { queue: "v", type: "v.t", ...spec } }, bearer(admin));
    await assertInvalid(
      enqueue({ runTime: create(TimestampSchema, { seconds: 2n ** 62n }) }),
      "task.run_time",
    );
    await assertInvalid(
      enqueue({ runTime: create(TimestampSchema, { seconds: YEAR_10000 }) }),
      "task.run_time",
    );
    await assertInvalid(enqueue({ runTime: timestampFromMs(Date.now() + 400 * DAY) }), "task.run_time");
    await assertInvalid(enqueue({ delay: durationFromMs(400 * DAY) }), "task.delay");
    await assertInvalid(
      enqueue({ delay: create(DurationSchema, { seconds: 10n, nanos: -1 }) }),
      "task.delay",
    );
    await assertInvalid(
      enqueue({ timeout: create(DurationSchema, { seconds: 10n, nanos: -5 }) }),
      "task.timeout",
    );
    await assertInvalid(
      enqueue({ timeout: create(DurationSchema, { nanos: 1_000_000_000 }) }),
      "task.timeout",
    );
    await assertInvalid(enqueue({ timeout: durationFromMs(DAY + 1000) }), "task.timeout");
    await assertInvalid(
      enqueue({ backoff: { initialDelay: durationFromMs(8 * DAY) } }),
      "task.backoff.initial_delay",
    );
    await assertInvalid(enqueue({ backoff: { maxDelay: durationFromMs(-1000) } }), "task.backoff.max_delay");
    await assertInvalid(enqueue({ backoff: { multiplier: NaN } }), "task.backoff.multiplier");
    await assertInvalid(
      enqueue({ dependencyCondition: 99 as DependencyCondition }),
      "task.dependency_condition",
    );
    await assertInvalid(
      tasks.enqueueBatch({ tasks: [{ type: "a" }, { type: "b", maxAttempts: 101 }] }, bearer(admin)),
      "tasks[1].max_attempts",
    );
    // The edges of each range are accepted.
    const edge = await enqueue({
      runTime: timestampFromMs(Date.now() + 364 * DAY),
      timeout: durationFromMs(DAY),
      backoff: { initialDelay: durationFromMs(0), maxDelay: durationFromMs(7 * DAY), multiplier: 100 },
      dependencyCondition: DependencyCondition.ALWAYS,
    });
    assert.ok(edge.task?.id);
  });
});

Deno.test("ListTasks and WatchTasks refuse an unknown state instead of dropping the filter", async () => {
  await withServer(async (server, admin) => {
    const tasks = createClient(TaskService, server.grpc());
    await tasks.enqueue({ task: { queue: "v", type: "v.t" } }, bearer(admin));
    await assertInvalid(tasks.listTasks({ state: 99 as TaskState }, bearer(admin)), "state");
    await assertInvalid(tasks.watchTasks({ state: 99 as TaskState }, bearer(admin)), "state");
    const queued = await tasks.listTasks({ state: TaskState.QUEUED }, bearer(admin));
    assert.equal(queued.tasks.length, 1);
  });
});

Deno.test("NUL and control characters in task, auth and filter strings answer InvalidArgument, not Internal", async () => {
  await withServer(async (server, admin) => {
    const tasks = createClient(TaskService, server.grpc());
    const auth = createClient(AuthService, server.grpc());
    const enqueue = (spec: MessageInitShape<typeof TaskSpecSchema>) =>
      tasks.enqueue({ task: { queue: "v", type: "v.t", ...spec } }, bearer(admin));
    await assertInvalid(enqueue({ type: "email\u0000send" }), "task.type");
    await assertInvalid(enqueue({ type: "email\nsend" }), "task.type");
    await assertInvalid(enqueue({ labels: { k: "v\u0000" } }), 'task.labels["k"]');
    await assertInvalid(enqueue({ labels: { "k\u0007": "v" } }), "task.labels key");
    await assertInvalid(enqueue({ idempotencyKey: "key\u0000" }), "task.idempotency_key");
    await assertInvalid(enqueue({ idempotencyKey: "key\t1" }), "task.idempotency_key");
    await assertInvalid(tasks.listTasks({ type: "t\u0000" }, bearer(admin)), "type");
    await assertInvalid(tasks.listTasks({ type: "t\n" }, bearer(admin)), "type");
    await assertInvalid(tasks.listTasks({ labels: { k: "\u001b[2J" } }, bearer(admin)), 'labels["k"]');
    const { task } = await enqueue({});
    await assertInvalid(tasks.cancelTask({ id: task!.id, reason: "because\u0000" }, bearer(admin)), "reason");
    await assertInvalid(tasks.cancelTask({ id: task!.id, reason: "line\nbreak" }, bearer(admin)), "reason");
    await assertInvalid(tasks.cancelTask({ id: task!.id, reason: "r".repeat(501) }, bearer(admin)), "reason");
    await assertInvalid(auth.login({ email: "admin\u0000@example.com", password: "x" }), "email");
    await assertInvalid(auth.listUsers({ emailPrefix: "adm\u0000" }, bearer(admin)), "email_prefix");
    await assertInvalid(auth.listUsers({ emailPrefix: "adm\tin" }, bearer(admin)), "email_prefix");
    await assertInvalid(auth.register({ email: "a\u0000b@example.com", password: "x" }), "email");
    const tags = createClient(TagService, server.grpc());
    await assertInvalid(tags.listTags({ namePrefix: "x".repeat(65) }, bearer(admin)), "name_prefix");
    await assertInvalid(
      tags.getTag({ key: { case: "slug", value: "s".repeat(129) } }, bearer(admin)),
      "slug",
    );
    // The task is untouched by the refused cancels.
    assert.equal((await tasks.getTask({ id: task!.id }, bearer(admin))).task?.cancelReason, "");
  });
});

Deno.test("ListQueues and ListWorkers page with opaque tokens and refuse a malformed one", async () => {
  await withServer(async (server, admin, workerKey) => {
    const tasks = createClient(TaskService, server.grpc());
    const workersClient = createClient(WorkerService, server.grpc());
    for (const queue of ["qa", "qb", "qc"]) {
      await tasks.enqueue({ task: { queue, type: "t" } }, bearer(admin));
    }
    const first = await tasks.listQueues({ pageSize: 2 }, bearer(admin));
    assert.deepEqual(first.queues.map((q) => q.name), ["qa", "qb"]);
    const second = await tasks.listQueues({ pageSize: 2, pageToken: first.nextPageToken }, bearer(admin));
    assert.deepEqual(second.queues.map((q) => q.name), ["qc"]);
    assert.equal(second.nextPageToken, "");

    const raw = ["w1", "w2", "w3"].map((id) => {
      const w = openRawWorker(server.grpc(), workerKey);
      w.send({ case: "hello", value: { workerId: id, queues: ["qa"], concurrency: 1 } });
      return w;
    });
    try {
      for (const w of raw) await w.nextOf("welcome");
      const page1 = await workersClient.listWorkers({ pageSize: 2 }, bearer(admin));
      const page2 = await workersClient.listWorkers(
        { pageSize: 2, pageToken: page1.nextPageToken },
        bearer(admin),
      );
      assert.deepEqual([...page1.workers, ...page2.workers].map((w) => w.id), ["w1", "w2", "w3"]);

      const tasksToken = (await tasks.listTasks({ pageSize: 1 }, bearer(admin))).nextPageToken;
      const garbage = ["%%%", "not base64!", btoa("w1"), "eyJ2IjoxfQ", first.nextPageToken + "x", tasksToken];
      for (const pageToken of garbage) {
        await assertInvalid(tasks.listQueues({ pageToken }, bearer(admin)), "page_token");
        await assertInvalid(workersClient.listWorkers({ pageToken }, bearer(admin)), "page_token");
      }
      // A queue's token in the worker list, and a token naming a NUL position, are refused too.
      await assertInvalid(
        workersClient.listWorkers({ pageToken: first.nextPageToken }, bearer(admin)),
        "page_token",
      );
      const forged = encodePageToken({ list: "queues" }, ["q\u0000"]);
      await assertInvalid(tasks.listQueues({ pageToken: forged }, bearer(admin)), "page_token");
    } finally {
      for (const w of raw) w.kill();
    }
  });
});

Deno.test("a page token made up by a client never reaches SQL as what it is not", async () => {
  await withServer(async (server, admin) => {
    const tags = createClient(TagService, server.grpc());
    const auth = createClient(AuthService, server.grpc());
    // The position of a suggestion list is a bigint sequence; of the user list, a time and a uuid.
    const suggestions = encodePageToken({ list: "suggestions", filters: { status: null } }, ["x"]);
    await assertInvalid(tags.listSuggestions({ pageToken: suggestions }, bearer(admin)), "page_token");
    const users = encodePageToken({ list: "users" }, [Date.now(), "not-a-uuid"]);
    await assertInvalid(auth.listUsers({ pageToken: users }, bearer(admin)), "page_token");
    const audience = encodePageToken({ list: "audience", filters: {} }, ["x"]);
    await assertInvalid(
      tags.resolveAudience({ tagIds: [crypto.randomUUID()], pageToken: audience }, bearer(admin)),
      "page_token",
    );
  });
});

Deno.test("an API key's expiry is in the future and at most ten years ahead", async () => {
  await withServer(async (server, admin) => {
    const auth = createClient(AuthService, server.grpc());
    const createKey = (expireTime: ReturnType<typeof timestampFromMs>) =>
      auth.createApiKey({ name: "k", scopes: ["tasks:read"], expireTime }, bearer(admin));
    await assertInvalid(createKey(timestampFromMs(Date.now() + 11 * 365 * DAY)), "expire_time");
    await assertInvalid(createKey(timestampFromMs(Date.now() - 1000)), "expire_time");
    const ok = await createKey(timestampFromMs(Date.now() + 9 * 365 * DAY));
    assert.ok(ok.secret);
  });
});

Deno.test("a worker's error message with colour codes and a NUL is recorded cleaned, and its stream lives on", async () => {
  await withServer(async (server, admin, workerKey) => {
    const tasks = createClient(TaskService, server.grpc());
    const { task } = await tasks.enqueue(
      { task: { queue: "v", type: "v.t", maxAttempts: 1 } },
      bearer(admin),
    );
    const w = openRawWorker(server.grpc(), workerKey);
    try {
      w.send({ case: "hello", value: { workerId: "dirty", queues: ["v"], concurrency: 1 } });
      const assign = await w.nextOf("assign");
      w.send({
        case: "result",
        value: {
          taskId: task!.id,
          leaseId: assign.leaseId,
          outcome: {
            case: "error",
            value: { message: "\u001b[31mboom\u0000\nat x", code: "e\u0007", retryable: false },
          },
        },
      });
      assert.equal((await w.nextOf("resultAck")).accepted, true);
      const { task: dead } = await tasks.getTask({ id: task!.id }, bearer(admin));
      assert.equal(dead?.lastError?.message, "\uFFFD[31mboom\uFFFD\nat x");
      assert.equal(dead?.lastError?.code, "e\uFFFD");
    } finally {
      w.kill();
    }
  });
});
