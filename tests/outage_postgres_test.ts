/**
 * Postgres goes away under a running server (its connection runs through a loopback proxy
 * the test cuts; the machine's Postgres stays up): calls answer Unavailable within a
 * client's deadline, never Internal and never a hang; health and readiness follow; and
 * everything serves again once Postgres is back.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  httpGet,
  type OutageServer,
  ServingStatus,
  startOutageServer,
  waitForHealth,
} from "./_support/outage_server.ts";

const DEADLINE_MS = 3000;

async function failure(call: Promise<unknown>): Promise<{ error: ConnectError; ms: number }> {
  const started = performance.now();
  try {
    await call;
  } catch (error) {
    return { error: ConnectError.from(error), ms: performance.now() - started };
  }
  throw new Error("expected the call to fail while Postgres is down, but it succeeded");
}

function clients(server: OutageServer) {
  const transport = createGrpcTransport({ baseUrl: server.url });
  const options = { headers: { authorization: `Bearer ${server.adminToken}` }, timeoutMs: DEADLINE_MS };
  const tasks = createClient(TaskService, transport);
  const tags = createClient(TagService, transport);
  const auth = createClient(AuthService, transport);
  return {
    /** One call of each kind: a read, a write, a sign-in, a task read and an enqueue. */
    calls: (taskId: string) => ({
      "TagService/ListTags": () => tags.listTags({}, options),
      "TagService/CreateTag": () =>
        tags.createTag({ name: `t-${crypto.randomUUID().slice(0, 6)}`, type: 3 }, options),
      "AuthService/Login": () =>
        auth.login({ email: "someone@example.com", password: "not the password" }, {
          timeoutMs: DEADLINE_MS,
        }),
      "TaskService/GetTask": () => tasks.getTask({ id: taskId }, options),
      "TaskService/Enqueue": () => tasks.enqueue({ task: { type: "noop" } }, options),
    }),
    tasks,
    options,
  };
}

async function assertAllUnavailable(server: OutageServer, taskId: string) {
  for (const [name, call] of Object.entries(clients(server).calls(taskId))) {
    const { error, ms } = await failure(call());
    assert.equal(Code[error.code], "Unavailable", `${name}: ${error.rawMessage}`);
    assert.equal(error.rawMessage, "database unavailable: try again shortly", name);
    assert.ok(ms < DEADLINE_MS, `${name} answered in ${Math.round(ms)} ms`);
  }
}

async function assertServesAgain(server: OutageServer, taskId: string) {
  await waitForHealth(server.url, "", ServingStatus.SERVING);
  assert.equal((await httpGet(server.url, "/readyz")).status, 200);
  for (const [name, call] of Object.entries(clients(server).calls(taskId))) {
    try {
      await call();
    } catch (error) {
      // A login with a wrong password is refused; what matters is that it was decided.
      assert.equal(ConnectError.from(error).code, Code.Unauthenticated, `${name}: ${error}`);
    }
  }
}

Deno.test("Postgres down: calls answer Unavailable in time, health and readiness follow, and it recovers", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const server = await startOutageServer();
  try {
    const { tasks, options } = clients(server);
    const { task } = await tasks.enqueue({ task: { type: "noop" } }, options);
    const taskId = task!.id;

    await t.step("refused (the server process is gone): Unavailable at once, then NOT_SERVING", async () => {
      await server.postgres.cut();
      await assertAllUnavailable(server, taskId);
      for (
        const service of [
          "taskmesh.tasks.v1.TaskService",
          "taskmesh.tasks.v1.WorkerService",
          "taskmesh.auth.v1.AuthService",
          "taskmesh.tags.v1.TagService",
          "",
        ]
      ) await waitForHealth(server.url, service, ServingStatus.NOT_SERVING);
      const ready = await httpGet(server.url, "/readyz");
      assert.equal(ready.status, 503);
      assert.match(ready.body, /postgres down/);
      assert.equal((await httpGet(server.url, "/healthz")).status, 503);
      // Liveness: a restart would not bring Postgres back.
      assert.equal((await httpGet(server.url, "/livez")).status, 200);
      await assertAllUnavailable(server, taskId);
    });

    await t.step("back: SERVING again and every call works", async () => {
      await server.postgres.restore();
      await assertServesAgain(server, taskId);
    });

    await t.step(
      "silent (a partition): a waiting call is ended with Unavailable before its deadline",
      async () => {
        server.postgres.stall();
        await assertAllUnavailable(server, taskId);
        assert.equal((await httpGet(server.url, "/readyz")).status, 503);
        await server.postgres.restore();
        await assertServesAgain(server, taskId);
      },
    );

    // Unavailable, not Internal: no call was logged as a server fault.
    const internal = server.log.lines.filter((l) => l.msg === "rpc failed");
    assert.deepEqual(internal.map((l) => `${l.method} ${l.error}`), []);
    // The operator is told, once per outage, by the dependency monitor.
    assert.equal(
      server.log.lines.filter((l) => String(l.msg).startsWith("postgres is unavailable")).length,
      2,
    );
    assert.equal(server.log.lines.filter((l) => String(l.msg).startsWith("postgres is back")).length, 2);
  } finally {
    await server.close();
  }
});
