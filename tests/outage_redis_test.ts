/**
 * Redis goes away under a running server (through a loopback proxy the test cuts or makes
 * silent; the machine's Redis stays up): an Enqueue answers as soon as Postgres has the
 * task, sign-in limits hold in memory, only the worker stream is refused, and the broker
 * catches up from Postgres once Redis is back.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  httpGet,
  type OutageServer,
  ServingStatus,
  startOutageServer,
  waitForHealth,
} from "./_support/outage_server.ts";
import { openRawWorker } from "./_support/raw_worker.ts";

const DEADLINE_MS = 3000;

async function code(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

async function workerKey(server: OutageServer): Promise<string> {
  const auth = createClient(AuthService, createGrpcTransport({ baseUrl: server.url }));
  const { secret } = await auth.createApiKey({ name: "worker", scopes: ["worker"] }, {
    headers: { authorization: `Bearer ${server.adminToken}` },
  });
  return secret;
}

for (const outage of ["refused", "silent"] as const) {
  Deno.test(
    `Redis ${outage}: enqueue answers after the commit, limits hold in memory, the broker catches up`,
    {
      sanitizeOps: false,
      sanitizeResources: false,
    },
    async () => {
      const server = await startOutageServer();
      try {
        const transport = createGrpcTransport({ baseUrl: server.url });
        const tasks = createClient(TaskService, transport);
        const auth = createClient(AuthService, transport);
        const options = { headers: { authorization: `Bearer ${server.adminToken}` }, timeoutMs: DEADLINE_MS };
        const key = await workerKey(server);
        const queue = `q${crypto.randomUUID().slice(0, 6)}`;

        if (outage === "refused") await server.redis.cut();
        else server.redis.stall();

        // Committed, so accepted: a client with a 3 s deadline must not see it fail and retry it.
        const enqueued = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const { task } = await tasks.enqueue({ task: { queue, type: "noop" } }, options);
          assert.ok(
            performance.now() - started < 1500,
            `enqueue ${i} took ${performance.now() - started} ms`,
          );
          assert.equal(task!.state, TaskState.QUEUED);
          enqueued.push(task!.id);
        }

        await waitForHealth(server.url, "taskmesh.tasks.v1.WorkerService", ServingStatus.NOT_SERVING);
        await waitForHealth(server.url, "", ServingStatus.NOT_SERVING);
        const health = createClient(Health, transport);
        assert.equal(
          (await health.check({ service: "taskmesh.tasks.v1.TaskService" })).status,
          ServingStatus.SERVING,
        );
        // Ready: enqueues, reads and sign-ins still work without Redis.
        const ready = await httpGet(server.url, "/readyz");
        assert.equal(ready.status, 200);
        assert.match(ready.body, /redis down/);
        // A worker stream needs the broker: refused with Unavailable, not left hanging.
        const refusedWorker = openRawWorker(transport, key);
        refusedWorker.send({ case: "hello", value: { workerId: "w-down", queues: [queue], concurrency: 1 } });
        const ended = ConnectError.from(await refusedWorker.ended);
        assert.equal(Code[ended.code], "Unavailable");
        assert.equal(ended.rawMessage, "task broker (Redis) unavailable: try again shortly");

        // Register and login limits hold, per instance, in memory: 5 registrations a minute
        // per address, 10 logins a minute per address and email.
        const register = (i: number) =>
          auth.register({
            email: `new${i}-${queue}@example.com`,
            password: "a perfectly fine passphrase",
            displayName: "New",
          }, { timeoutMs: DEADLINE_MS });
        for (let i = 0; i < 5; i++) assert.equal(await code(register(i)), "OK", `register ${i}`);
        assert.equal(await code(register(5)), "ResourceExhausted");
        const login = () =>
          auth.login({ email: `someone-${queue}@example.com`, password: "not the password" }, {
            timeoutMs: DEADLINE_MS,
          });
        for (let i = 0; i < 10; i++) assert.equal(await code(login()), "Unauthenticated", `login ${i}`);
        assert.equal(await code(login()), "ResourceExhausted");
        assert.ok(server.log.lines.some((l) => String(l.msg).startsWith("rate limits fell back to memory")));

        // Back: the broker is rebuilt from Postgres, and a worker gets every task enqueued meanwhile.
        await server.redis.restore();
        await waitForHealth(server.url, "", ServingStatus.SERVING);
        const worker = openRawWorker(transport, key);
        try {
          worker.send({ case: "hello", value: { workerId: "w-up", queues: [queue], concurrency: 3 } });
          const assigned = new Set<string>();
          while (assigned.size < enqueued.length) assigned.add((await worker.nextOf("assign")).task!.id);
          assert.deepEqual([...assigned].sort(), [...enqueued].sort());
        } finally {
          worker.kill();
        }
      } finally {
        await server.close();
      }
    },
  );
}
