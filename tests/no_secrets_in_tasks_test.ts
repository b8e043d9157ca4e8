/**
 * No secret is readable through a task (issue 10, item 2). A verification mail and a
 * password-reset mail each carry a token; they travel as `email.send` tasks. After both
 * were delivered to a worker (one succeeds, one dies), every read RPC of the task and
 * worker services, called by every role and every API-key scope, answers without
 * either token anywhere in what it returns; the WatchTasks streams that were open the
 * whole time never carried it; and Postgres holds it in no task row. The worker that
 * holds the lease does receive the mail, token included.
 */
import assert from "node:assert/strict";
import { type CallOptions, Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { createAdmin } from "../server/auth/first_admin.ts";
import { API_KEY_SCOPES } from "../server/authz/scopes.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import type { TaskRecord } from "../server/tasks/model.ts";
import { tasksOf } from "../server/runtimes.ts";
import { createMemoryLogger, createWorker, PermanentError } from "../worker/mod.ts";
import { bearer } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

const decoder = new TextDecoder();

/** Everything a response holds, bytes fields decoded as text, so a token inside a payload is found. */
function text(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) => v instanceof Uint8Array ? decoder.decode(v) : typeof v === "bigint" ? String(v) : v,
  );
}

Deno.test("no read RPC, by any role or scope, shows a verification or reset token", async () => {
  const server = await startTestServer({ redis: true });
  const rt = tasksOf(server.app.runtimes);
  const ended = new Map<string, TaskRecord>();
  const waiters = new Set<() => void>();
  const off = rt.onTask((task) => {
    if (task.type === "email.send" && ["succeeded", "dead"].includes(task.state)) ended.set(task.id, task);
    for (const wake of waiters) wake();
  });
  const watches: AbortController[] = [];
  const workerLog = createMemoryLogger("info");
  const opened: string[] = [];
  const handlers = {
    "email.send": (payload: Uint8Array) => {
      const mail = JSON.parse(decoder.decode(payload));
      opened.push(mail.text);
      // The reset mail dies, so it is a dead letter too; the verification mail succeeds.
      if (mail.subject.startsWith("Reset")) throw new PermanentError("refused here", { code: "test" });
      return { sent: true };
    },
  };
  let worker: ReturnType<typeof createWorker> | undefined;
  let running: Promise<void> | undefined;
  try {
    const auth = createClient(AuthService, server.connect());
    const adminEmail = `admin-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = "correct horse battery staple";
    await createAdmin(server.deps, { email: adminEmail, password });
    const admin = (await auth.login({ email: adminEmail, password })).tokens!.accessToken;

    const credentials: [string, string][] = [["admin", admin]];
    for (const role of ["member", "viewer", "operator"] as const) {
      const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
      await insertUser(server.deps.sql, {
        id: crypto.randomUUID(),
        email,
        displayName: role,
        passwordHash: await hashPassword(password),
        role,
        verifiedAt: new Date(),
        now: new Date(),
      });
      credentials.push([role, (await auth.login({ email, password })).tokens!.accessToken]);
    }
    for (const scope of API_KEY_SCOPES) {
      const { secret } = await auth.createApiKey({ name: scope, scopes: [scope] }, bearer(admin));
      credentials.push([`key ${scope}`, secret]);
    }
    const workerKey = credentials.find(([name]) => name === "key worker")![1];
    const tasks = createClient(TaskService, server.grpc());
    const workers = createClient(WorkerService, server.grpc());

    // Watches open before any mail exists, for every credential: what they carry is checked at the end.
    const streamed: string[] = [];
    const watching: Promise<void>[] = [];
    for (const [name, credential] of credentials) {
      const abort = new AbortController();
      watches.push(abort);
      const options: CallOptions = { ...bearer(credential), signal: abort.signal };
      watching.push((async () => {
        try {
          for await (const res of tasks.watchTasks({}, options)) streamed.push(`${name}: ${text(res)}`);
        } catch (error) {
          streamed.push(`${name}: ${error instanceof ConnectError ? error.rawMessage : String(error)}`);
        }
      })());
    }

    const memberEmail = `new-${crypto.randomUUID().slice(0, 8)}@example.com`;
    await auth.register({ email: memberEmail, password: "a long member passphrase", displayName: "New" });
    await auth.requestPasswordReset({ email: adminEmail });

    worker = createWorker({
      url: server.url,
      apiKey: workerKey,
      queues: ["emails"],
      concurrency: 2,
      workerId: `sealed-${crypto.randomUUID().slice(0, 8)}`,
      handlers,
      log: workerLog,
    });
    running = worker.start();
    while (ended.size < 2) await new Promise<void>((resolve) => waiters.add(resolve));

    // The worker holding the lease got each mail whole, token and all.
    const tokens = opened.map((mail) => /token=([A-Za-z0-9_-]{43})/.exec(mail)?.[1]).filter((t) => t);
    assert.equal(tokens.length, 2, `the worker received both mails: ${opened.join("\n---\n")}`);
    const states = [...ended.values()].map((t) => t.state).sort();
    assert.deepEqual(states, ["dead", "succeeded"]);
    const ids = [...ended.keys()];

    const answers: string[] = [];
    const ask = async (what: string, call: () => Promise<unknown>) => {
      try {
        answers.push(`${what}: ${text(await call())}`);
      } catch (error) {
        answers.push(`${what}: ${error instanceof ConnectError ? error.rawMessage : String(error)}`);
      }
    };
    for (const [name, credential] of credentials) {
      const as = bearer(credential);
      for (const id of ids) await ask(`${name} GetTask`, () => tasks.getTask({ id }, as));
      await ask(`${name} ListTasks`, () => tasks.listTasks({}, as));
      await ask(
        `${name} ListTasks emails`,
        () => tasks.listTasks({ queue: "emails", type: "email.send" }, as),
      );
      await ask(`${name} ListTasks dead`, () => tasks.listTasks({ state: TaskState.DEAD }, as));
      await ask(`${name} ListDeadLetters`, () => tasks.listDeadLetters({}, as));
      await ask(`${name} ListDeadLetters emails`, () => tasks.listDeadLetters({ queue: "emails" }, as));
      await ask(`${name} ListQueues`, () => tasks.listQueues({}, as));
      await ask(`${name} ListWorkers`, () => workers.listWorkers({}, as));
    }
    // The readers really read the tasks: a check that finds nothing because nothing came back proves nothing.
    assert.ok(
      answers.some((a) => a.startsWith("key tasks:read GetTask") && a.includes("$sealed")),
      "a tasks:read key sees the sealed reference",
    );
    assert.ok(
      answers.some((a) => a.startsWith("viewer ListDeadLetters emails") && ids.some((id) => a.includes(id))),
      "a viewer sees the dead mail",
    );

    for (const abort of watches) abort.abort();
    await Promise.all(watching);
    assert.ok(
      streamed.some((s) => s.startsWith("viewer: ") && s.includes("email.send")),
      "the watches saw the mails",
    );

    const rows = await server.deps.sql<{ row: string }[]>`select t::text as row from tasks t`;
    for (const token of tokens) {
      for (const seen of [...answers, ...streamed]) {
        assert.ok(!seen.includes(token!), `token shown by ${seen.slice(0, 200)}`);
      }
      for (const { row } of rows) assert.ok(!row.includes(token!), "a task row holds the token");
      // bytea prints as hex in a row's text: look for the token's hex too.
      const hex = Array.from(new TextEncoder().encode(token!), (b) => b.toString(16).padStart(2, "0")).join(
        "",
      );
      for (const { row } of rows) assert.ok(!row.includes(hex), "a task payload holds the token");
    }
    await worker.drain();
    await running;
  } finally {
    off();
    for (const abort of watches) abort.abort();
    if (running) {
      await worker?.stop();
      await running.catch(() => {});
    }
    await server.close();
  }
});

Deno.test("a sealed reference copied into another task opens nothing, and the sealed mail goes once it is sent", async () => {
  const server = await startTestServer({ redis: true });
  const rt = tasksOf(server.app.runtimes);
  const states = new Map<string, string>();
  let mailId: string | undefined;
  const waiters = new Set<() => void>();
  const off = rt.onTask((task) => {
    states.set(task.id, task.state);
    if (task.queue === "emails") mailId = task.id;
    for (const wake of waiters) wake();
  });
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise<void>((resolve) => waiters.add(resolve));
  };
  const received: string[] = [];
  const running: [ReturnType<typeof createWorker>, Promise<void>][] = [];
  const work = (apiKey: string, queue: string) => {
    const worker = createWorker({
      url: server.url,
      apiKey,
      queues: [queue],
      concurrency: 1,
      workerId: `${queue}-${crypto.randomUUID().slice(0, 8)}`,
      handlers: {
        "email.send": (payload: Uint8Array) => {
          received.push(`${queue}: ${decoder.decode(payload)}`);
          return {};
        },
      },
      log: createMemoryLogger("info"),
    });
    running.push([worker, worker.start()]);
  };
  try {
    const auth = createClient(AuthService, server.connect());
    const adminEmail = `admin-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = "correct horse battery staple";
    await createAdmin(server.deps, { email: adminEmail, password });
    const admin = (await auth.login({ email: adminEmail, password })).tokens!.accessToken;
    const { secret: workerKey } = await auth.createApiKey({ name: "w", scopes: ["worker"] }, bearer(admin));
    await auth.requestPasswordReset({ email: adminEmail });

    const tasks = createClient(TaskService, server.grpc());
    // The reset mail is enqueued after the answer (the answer must not tell whether the account exists).
    await until(() => mailId !== undefined);
    const mail = (await tasks.getTask({ id: mailId! }, bearer(admin))).task!;
    const reference = mail.spec!.payload;
    assert.match(decoder.decode(reference), /^\{"\$sealed":"[0-9a-f-]{36}"\}$/);

    // Enqueue refuses a payload shaped like a reference, however it is spelled.
    for (const payload of [reference, new TextEncoder().encode(' { "x": 1, "$sealed": "anything" }')]) {
      const refused = await tasks.enqueue(
        { task: { queue: "mine", type: "email.send", payload } },
        bearer(admin),
      )
        .then(() => undefined, (error) => error);
      assert.ok(refused instanceof ConnectError, "Enqueue refused the copy");
      assert.equal(refused.code, Code.InvalidArgument);
      assert.match(refused.rawMessage, /^task\.payload /);
    }

    // A copy that got past the check anyway (enqueued inside the server) still opens nothing.
    const { tasks: [copy] } = await rt.enqueue([{
      queue: "mine",
      type: "email.send",
      payload: reference,
      priority: 0,
      runAt: rt.clock.now(),
      maxAttempts: 1,
      backoff: { initialMs: 1000, maxMs: 1000, multiplier: 1 },
      timeoutMs: 10_000,
      idempotencyKey: "",
      labels: {},
      dependsOn: [],
      dependsOnBatchIndex: [],
      condition: "on_success",
    }]);
    work(workerKey, "mine");
    await until(() => states.get(copy.id) === "succeeded");
    assert.deepEqual(
      received,
      [`mine: ${decoder.decode(reference)}`],
      "the copy's worker got only the reference",
    );

    // The mail's own worker gets the mail; once it is sent, its sealed copy is gone.
    const sealed = async () =>
      (await server.deps.sql<
        { n: number }[]
      >`select count(*)::int as n from sealed_payloads where task_id = ${mail.id}`)[0].n;
    assert.equal(await sealed(), 1);
    work(workerKey, "emails");
    await until(() => states.get(mail.id) === "succeeded");
    assert.match(received[1], /^emails: .*token=[A-Za-z0-9_-]{43}/s, "the mail's worker got the mail");
    assert.equal(await sealed(), 0, "the sent mail's sealed payload is deleted");
  } finally {
    off();
    for (const [worker, done] of running) {
      await worker.stop();
      await done.catch(() => {});
    }
    await server.close();
  }
});

Deno.test("only an admin may create a worker key: a worker on emails gets the reset links", async () => {
  const server = await startTestServer();
  try {
    const auth = createClient(AuthService, server.connect());
    const password = "correct horse battery staple";
    const login = async (role: "admin" | "operator") => {
      const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
      await insertUser(server.deps.sql, {
        id: crypto.randomUUID(),
        email,
        displayName: role,
        passwordHash: await hashPassword(password),
        role,
        verifiedAt: new Date(),
        now: new Date(),
      });
      return (await auth.login({ email, password })).tokens!.accessToken;
    };
    const operator = await login("operator");
    const refused = await auth.createApiKey({ name: "w", scopes: ["worker"] }, bearer(operator))
      .then(() => undefined, (error) => error);
    assert.ok(refused instanceof ConnectError, "an operator's worker key was refused");
    assert.equal(refused.code, Code.PermissionDenied);
    // The operator keeps every other scope.
    const others = API_KEY_SCOPES.filter((s) => s !== "worker");
    const created = await auth.createApiKey({ name: "ops", scopes: [...others] }, bearer(operator));
    assert.deepEqual([...created.apiKey!.scopes].sort(), [...others].sort());
    const admin = await login("admin");
    const key = await auth.createApiKey({ name: "w", scopes: ["worker"] }, bearer(admin));
    assert.deepEqual(key.apiKey!.scopes, ["worker"]);
  } finally {
    await server.close();
  }
});
