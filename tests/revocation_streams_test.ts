/**
 * Revocation reaches open streams (issue 10, item 3). Two server instances share one
 * Postgres and one Redis; the streams are open on B while the revocation happens on A:
 * revoking an API key, or disabling the user who owns it, ends the worker stream and
 * the WatchTasks stream it holds within 1 s, with UNAUTHENTICATED, and the worker gets
 * no Assign afterwards. A lost announcement is caught by the periodic re-check. A worker
 * key cannot take over a worker id connected with another owner's key.
 */
import assert from "node:assert/strict";
import { type CallOptions, Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthService, Role } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import { tasksOf } from "../server/runtimes.ts";
import { bearer, credentials, openRawWorker, type RawWorker } from "./_support/raw_worker.ts";
import { twoInstances } from "./_support/two_instances.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";

const OPTS = { sanitizeOps: false, sanitizeResources: false };

/** A verified user of `role` and their access token (from instance `server`). */
async function user(server: TestServer, role: "admin" | "operator" | "viewer") {
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  const row = await insertUser(server.deps.sql, {
    id: crypto.randomUUID(),
    email,
    displayName: role,
    passwordHash: await hashPassword(password),
    role,
    verifiedAt: new Date(),
    now: new Date(),
  });
  const auth = createClient(AuthService, server.connect());
  return { id: row!.id, token: (await auth.login({ email, password })).tokens!.accessToken };
}

/** A WatchTasks stream on `server`: its events, and how it ended (the error, or null when it ended OK). */
function watch(server: TestServer, options: CallOptions) {
  const events: string[] = [];
  let wake: (() => void) | undefined;
  let endedAt = 0;
  const ended = (async () => {
    try {
      for await (const res of createClient(TaskService, server.grpc()).watchTasks({ queue: "rq" }, options)) {
        if (res.task) events.push(res.task.id);
        wake?.();
      }
      return null;
    } catch (error) {
      return error;
    } finally {
      endedAt = performance.now();
    }
  })();
  return {
    events,
    ended,
    endedAt: () => endedAt,
    async saw(id: string) {
      while (!events.includes(id)) await new Promise<void>((r) => wake = r);
    },
  };
}

/** A raw worker on `server` with a task assigned (so its stream and the watch are both live). */
async function busyWorker(server: TestServer, key: string, enqueueAs: CallOptions, workerId: string) {
  const worker = openRawWorker(server.grpc(), key);
  worker.send({ case: "hello", value: { workerId, queues: ["rq"], concurrency: 2, version: "t" } });
  await worker.nextOf("welcome");
  const tasks = createClient(TaskService, server.grpc());
  const { task } = await tasks.enqueue({ task: { queue: "rq", type: "t" } }, enqueueAs);
  const assign = await worker.nextOf("assign");
  assert.equal(assign.task?.id, task!.id);
  return { worker, task: assign.task!, leaseId: assign.leaseId };
}

function codeOf(error: unknown): Code | undefined {
  return error instanceof ConnectError ? error.code : undefined;
}

/** How the worker's stream ended; fails if it ended OK. */
async function endedWith(worker: RawWorker): Promise<ConnectError> {
  const error = await worker.ended;
  assert.ok(error instanceof ConnectError, `the stream ended with ${error}`);
  return error;
}

Deno.test(
  "revoking a key on one instance ends its worker and watch streams on the other within 1 s",
  OPTS,
  async () => {
    const d = await twoInstances();
    try {
      const auth = createClient(AuthService, d.a.connect());
      const { apiKey, secret } = await auth.createApiKey(
        { name: "worker and reader", scopes: ["worker", "tasks:read"] },
        bearer(d.admin),
      );
      const watcher = watch(d.b, bearer(secret));
      const { worker, task, leaseId } = await busyWorker(d.b, secret, bearer(d.admin), "revoked-1");
      await watcher.saw(task.id);

      const started = performance.now();
      await auth.revokeApiKey({ id: apiKey!.id }, bearer(d.admin));
      const [streamError, watchError] = await Promise.all([endedWith(worker), watcher.ended]);
      const workerEnded = performance.now();
      assert.equal(streamError.code, Code.Unauthenticated);
      assert.match(streamError.rawMessage, /API key was revoked/);
      assert.equal(codeOf(watchError), Code.Unauthenticated, String(watchError));
      assert.ok(workerEnded - started < 1000, `the worker stream ended after ${workerEnded - started} ms`);
      assert.ok(
        watcher.endedAt() - started < 1000,
        `the watch ended after ${watcher.endedAt() - started} ms`,
      );

      // The result the worker sends now is not taken: the task was given back, not completed.
      worker.send({
        case: "result",
        value: { taskId: task.id, leaseId, outcome: { case: "output", value: new Uint8Array() } },
      });
      // B gives the lease back as the stream's handler finishes, just after the client heard the end.
      const store = tasksOf(d.a.app.runtimes);
      let stored = (await store.get(task.id))!;
      // (its attempt row may be written only then: a start is recorded once the task has run 100 ms)
      for (let i = 0; i < 2000 && !stored.attempts[0]?.outcome; i++) stored = (await store.get(task.id))!;
      assert.notEqual(stored.task.state, "succeeded");
      assert.equal(stored.attempts[0].outcome, "lease_expired");
      assert.equal(tasksOf(d.b.app.runtimes).sessionCount, 0);
      assert.equal(d.b.app.runtimes.auth.streams.size, 0, "B holds no stream of the key any more");

      // And the key opens nothing new.
      const again = openRawWorker(d.b.grpc(), secret);
      again.send({ case: "hello", value: { workerId: "revoked-1", queues: ["rq"], concurrency: 1 } });
      assert.equal((await endedWith(again)).code, Code.Unauthenticated);
    } finally {
      await d.close();
    }
  },
);

Deno.test(
  "disabling a user on one instance ends their token's and their keys' streams on the other within 1 s",
  OPTS,
  async () => {
    const d = await twoInstances();
    try {
      // An admin: only admins may create worker keys.
      const op = await user(d.a, "admin");
      const authB = createClient(AuthService, d.b.connect());
      const { secret } = await authB.createApiKey(
        { name: "op worker", scopes: ["worker"] },
        bearer(op.token),
      );
      const watcher = watch(d.b, bearer(op.token));
      const { worker, task } = await busyWorker(d.b, secret, bearer(d.admin), "disabled-1");
      await watcher.saw(task.id);

      const started = performance.now();
      await createClient(AuthService, d.a.connect()).disableUser(
        { userId: op.id, reason: "left" },
        bearer(d.admin),
      );
      const [streamError, watchError] = await Promise.all([endedWith(worker), watcher.ended]);
      const elapsed = performance.now() - started;
      assert.equal(streamError.code, Code.Unauthenticated);
      assert.equal(codeOf(watchError), Code.Unauthenticated, String(watchError));
      assert.match((watchError as ConnectError).rawMessage, /account was disabled/);
      assert.ok(elapsed < 1000, `the streams ended after ${elapsed} ms`);
      assert.ok(watcher.endedAt() - started < 1000);

      // A task enqueued now is assigned to nobody: the stream that could take it is gone.
      const { task: next } = await createClient(TaskService, d.a.grpc()).enqueue(
        { task: { queue: "rq", type: "t" } },
        bearer(d.admin),
      );
      assert.equal((await tasksOf(d.a.app.runtimes).get(next!.id))!.task.state, "queued");
    } finally {
      await d.close();
    }
  },
);

Deno.test("a revocation whose announcement was lost ends the stream at the next re-check", OPTS, async () => {
  const d = await twoInstances();
  try {
    const auth = createClient(AuthService, d.a.connect());
    const { apiKey, secret } = await auth.createApiKey({ name: "w", scopes: ["worker"] }, bearer(d.admin));
    const { worker } = await busyWorker(d.b, secret, bearer(d.admin), "quiet-1");
    // Revoked behind the bus's back, as if the announcement never arrived.
    await d.a.deps.sql`update api_keys set revoked_at = now() where id = ${apiKey!.id}`;
    await d.b.app.runtimes.auth.streams.recheck();
    assert.equal((await endedWith(worker)).code, Code.Unauthenticated);
  } finally {
    await d.close();
  }
});

Deno.test("a worker key cannot take over a worker id connected with another owner's key", OPTS, async () => {
  const d = await twoInstances();
  try {
    const auth = createClient(AuthService, d.a.connect());
    const mine = (await auth.createApiKey({ name: "w", scopes: ["worker"] }, bearer(d.admin))).secret;
    const op = await user(d.a, "admin");
    const theirs = (await auth.createApiKey({ name: "x", scopes: ["worker"] }, bearer(op.token))).secret;
    const held = openRawWorker(d.a.grpc(), mine);
    held.send({ case: "hello", value: { workerId: "owned-1", queues: ["rq"], concurrency: 1 } });
    await held.nextOf("welcome");
    // The registry entry B reads is written at connect; make sure B sees it before the attempt.
    const rtB = tasksOf(d.b.app.runtimes);
    while (!(await rtB.workers()).some((w) => w.id === "owned-1")) {
      // Each check reads the registry again.
    }

    for (const server of [d.a, d.b]) {
      const thief = openRawWorker(server.grpc(), theirs);
      thief.send({ case: "hello", value: { workerId: "owned-1", queues: ["rq"], concurrency: 1 } });
      const error = await endedWith(thief);
      assert.equal(error.code, Code.PermissionDenied);
      assert.match(error.rawMessage, /worker id "owned-1" is connected with another owner's key/);
    }
    // The rightful stream is untouched; the same owner's other key may take the id over (a restart).
    held.send({ case: "heartbeat", value: { leases: [], load: 0 } });
    const second = (await auth.createApiKey({ name: "w2", scopes: ["worker"] }, bearer(d.admin))).secret;
    const restart = openRawWorker(d.a.grpc(), second);
    restart.send({ case: "hello", value: { workerId: "owned-1", queues: ["rq"], concurrency: 1 } });
    await restart.nextOf("welcome");
    restart.kill();
    held.kill();
  } finally {
    await d.close();
  }
});

Deno.test(
  "embedded mode: signing every session out ends the watches opened with their tokens",
  OPTS,
  async () => {
    const server = await startTestServer();
    try {
      await credentials(server);
      const viewer = await user(server, "viewer");
      const other = await user(server, "viewer");
      const mine = watch(server, bearer(viewer.token));
      const theirs = watch(server, bearer(other.token));
      const streams = server.app.runtimes.auth.streams;
      // Both watches registered (round trips to the server until they are).
      const tasks = createClient(TaskService, server.grpc());
      for (let i = 0; i < 2000 && streams.size < 2; i++) await tasks.listQueues({}, bearer(viewer.token));
      assert.equal(streams.size, 2);

      await createClient(AuthService, server.connect()).logoutAll({}, bearer(viewer.token));
      const error = await mine.ended;
      assert.equal(codeOf(error), Code.Unauthenticated);
      assert.match((error as ConnectError).rawMessage, /session was signed out/);
      assert.equal(streams.size, 1, "another user's watch goes on");
      assert.equal(theirs.endedAt(), 0);
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "embedded mode: logging one session out ends that session's watch, not the others'",
  OPTS,
  async () => {
    const server = await startTestServer();
    try {
      const email = `viewer-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const password = "correct horse battery staple";
      await insertUser(server.deps.sql, {
        id: crypto.randomUUID(),
        email,
        displayName: "v",
        passwordHash: await hashPassword(password),
        role: "viewer",
        verifiedAt: new Date(),
        now: new Date(),
      });
      const auth = createClient(AuthService, server.connect());
      const first = (await auth.login({ email, password })).tokens!;
      const second = (await auth.login({ email, password })).tokens!;
      const one = watch(server, bearer(first.accessToken));
      watch(server, bearer(second.accessToken));
      const streams = server.app.runtimes.auth.streams;
      const tasks = createClient(TaskService, server.grpc());
      for (let i = 0; i < 2000 && streams.size < 2; i++) {
        await tasks.listQueues(
          {},
          bearer(first.accessToken),
        );
      }
      assert.equal(streams.size, 2);

      await auth.logout({ refreshToken: first.refreshToken });
      assert.equal(codeOf(await one.ended), Code.Unauthenticated);
      assert.equal(streams.size, 1, "the other session's watch goes on");
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "ChangePassword on one instance ends the other sessions' watches on the other within 1 s; the new session works",
  OPTS,
  async () => {
    const d = await twoInstances();
    try {
      const email = `changer-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const password = "correct horse battery staple";
      await insertUser(d.a.deps.sql, {
        id: crypto.randomUUID(),
        email,
        displayName: "changer",
        passwordHash: await hashPassword(password),
        role: "viewer",
        verifiedAt: new Date(),
        now: new Date(),
      });
      const authA = createClient(AuthService, d.a.connect());
      const here = (await authA.login({ email, password })).tokens!;
      const elsewhere = (await authA.login({ email, password })).tokens!;
      const old = watch(d.b, bearer(elsewhere.accessToken));
      const own = watch(d.b, bearer(here.accessToken));
      // WatchTasks streams what its own instance changes: the tasks are enqueued on B.
      const tasksB = createClient(TaskService, d.b.grpc());
      const { task } = await tasksB.enqueue({ task: { queue: "rq", type: "t" } }, bearer(d.admin));
      await Promise.all([old.saw(task!.id), own.saw(task!.id)]);

      const started = performance.now();
      const { tokens } = await authA.changePassword(
        { currentPassword: password, newPassword: "a brand new passphrase" },
        bearer(here.accessToken),
      );
      const [oldError, ownError] = await Promise.all([old.ended, own.ended]);
      const elapsed = Math.max(old.endedAt(), own.endedAt()) - started;
      for (const error of [oldError, ownError]) {
        assert.equal(codeOf(error), Code.Unauthenticated, String(error));
        assert.match((error as ConnectError).rawMessage, /session was signed out/);
      }
      assert.ok(elapsed < 1000, `the watches ended after ${elapsed} ms`);

      // The fresh session keeps working on both instances, streams included.
      const fresh = watch(d.b, bearer(tokens!.accessToken));
      const { task: next } = await tasksB.enqueue({ task: { queue: "rq", type: "t" } }, bearer(d.admin));
      await fresh.saw(next!.id);
      assert.equal(fresh.endedAt(), 0);
      const me = await createClient(AuthService, d.b.connect()).getMe({}, bearer(tokens!.accessToken));
      assert.equal(me.user?.email, email);
    } finally {
      await d.close();
    }
  },
);

Deno.test(
  "demoting a user on one instance ends their token's and their keys' streams on the other within 1 s",
  OPTS,
  async () => {
    const d = await twoInstances();
    try {
      const other = await user(d.a, "admin");
      const authA = createClient(AuthService, d.a.connect());
      const { secret } = await authA.createApiKey(
        { name: "admin worker", scopes: ["worker"] },
        bearer(other.token),
      );
      const watcher = watch(d.b, bearer(other.token));
      const { worker, task } = await busyWorker(d.b, secret, bearer(d.admin), "demoted-1");
      await watcher.saw(task.id);

      const started = performance.now();
      await authA.setRole({ userId: other.id, role: Role.VIEWER }, bearer(d.admin));
      // Bounded, so a stream that never ends fails the test instead of hanging it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const [streamError, watchError] = await Promise.race([
        Promise.all([endedWith(worker), watcher.ended]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("the streams were still open 5 s after the demotion")),
            5000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const elapsed = performance.now() - started;
      assert.equal(streamError.code, Code.Unauthenticated);
      assert.match(streamError.rawMessage, /role changed/);
      assert.equal(codeOf(watchError), Code.Unauthenticated, String(watchError));
      assert.ok(elapsed < 1000, `the worker stream ended after ${elapsed} ms`);
      assert.ok(
        watcher.endedAt() - started < 1000,
        `the watch ended after ${watcher.endedAt() - started} ms`,
      );

      // Connecting again is authorized under the new role: a viewer's key serves no queue.
      const again = openRawWorker(d.b.grpc(), secret);
      again.send({ case: "hello", value: { workerId: "demoted-1", queues: ["rq"], concurrency: 1 } });
      assert.equal((await endedWith(again)).code, Code.PermissionDenied);
    } finally {
      await d.close();
    }
  },
);
