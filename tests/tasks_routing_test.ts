/**
 * Routing by Hello.task_types and per-type defaults, over a real server (Postgres and
 * Redis) with raw workers: a task no connected worker declared waits (it is not killed
 * with no_handler) and runs once a worker declaring its type connects; an Enqueue that
 * leaves fields unset gets its type's defaults.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { bearer, credentials, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("a task is assigned only to a worker that declared its type", opts, async () => {
  const server = await startTestServer({ redis: true });
  const { admin, workerKey } = await credentials(server);
  const as = bearer(admin);
  const tasks = createClient(TaskService, server.grpc());
  const promo = openRawWorker(server.grpc(), workerKey);
  const mailer = openRawWorker(server.grpc(), workerKey);
  try {
    // A third-party worker on the shared queue, serving one type only.
    promo.send({
      case: "hello",
      value: { workerId: "promo", queues: ["emails"], concurrency: 5, taskTypes: ["email.promo"] },
    });
    await promo.nextOf("welcome");
    // The auth mail first and at a higher priority: without routing, it would be the promo worker's first task.
    const { task: auth } = await tasks.enqueue(
      { task: { queue: "emails", type: "email.send", priority: 9 } },
      as,
    );
    const { task: offer } = await tasks.enqueue({ task: { queue: "emails", type: "email.promo" } }, as);
    const first = await promo.nextOf("assign");
    assert.equal(first.task?.id, offer!.id, "the promo worker gets its own type, not the auth mail");
    promo.send({
      case: "result",
      value: {
        taskId: offer!.id,
        leaseId: first.leaseId,
        outcome: { case: "output", value: new Uint8Array() },
      },
    });
    assert.equal((await promo.nextOf("resultAck")).accepted, true);

    const { task: waiting } = await tasks.getTask({ id: auth!.id }, as);
    assert.equal(waiting?.state, TaskState.QUEUED, "it waits for a worker that has its type");
    assert.equal(waiting?.attempts.length, 0, "and was never tried, so never killed with no_handler");

    mailer.send({
      case: "hello",
      value: { workerId: "mailer", queues: ["emails"], concurrency: 1, taskTypes: ["email.send"] },
    });
    await mailer.nextOf("welcome");
    const assigned = await mailer.nextOf("assign");
    assert.equal(assigned.task?.id, auth!.id, "it runs once a worker declaring its type connects");
  } finally {
    promo.kill();
    mailer.kill();
    await server.close();
  }
});

Deno.test("per-type defaults apply to what an Enqueue leaves unset", opts, async () => {
  const server = await startTestServer({ redis: true });
  const { admin } = await credentials(server);
  const as = bearer(admin);
  const tasks = createClient(TaskService, server.grpc());
  try {
    const { defaults } = await tasks.setTaskTypeDefaults({
      defaults: {
        type: "report.build",
        queue: "reports",
        maxAttempts: 2,
        timeout: { seconds: 30n },
        backoff: { initialDelay: { seconds: 5n }, maxDelay: { seconds: 60n }, multiplier: 3 },
      },
    }, as);
    assert.equal(defaults?.queue, "reports");

    const { task: plain } = await tasks.enqueue({ task: { type: "report.build" } }, as);
    assert.equal(plain?.spec?.queue, "reports");
    assert.equal(plain?.spec?.maxAttempts, 2);
    assert.equal(plain?.spec?.timeout?.seconds, 30n);
    assert.equal(plain?.spec?.backoff?.initialDelay?.seconds, 5n);
    assert.equal(plain?.spec?.backoff?.multiplier, 3);

    // What the caller sets wins; another type keeps the built-in defaults.
    const { task: explicit } = await tasks.enqueue(
      { task: { type: "report.build", queue: "urgent", maxAttempts: 7, timeout: { seconds: 2n } } },
      as,
    );
    assert.deepEqual([explicit?.spec?.queue, explicit?.spec?.maxAttempts, explicit?.spec?.timeout?.seconds], [
      "urgent",
      7,
      2n,
    ]);
    const { tasks: batch } = await tasks.enqueueBatch(
      { tasks: [{ type: "report.build" }, { type: "noop" }] },
      as,
    );
    assert.deepEqual(batch.map((t) => [t.spec?.queue, t.spec?.maxAttempts]), [["reports", 2], [
      "default",
      5,
    ]]);

    const listed = await tasks.listTaskTypeDefaults({}, as);
    assert.deepEqual(listed.defaults.map((d) => d.type), ["report.build"]);

    // Every field unset removes them.
    await tasks.setTaskTypeDefaults({ defaults: { type: "report.build" } }, as);
    const { task: after } = await tasks.enqueue({ task: { type: "report.build" } }, as);
    assert.deepEqual([after?.spec?.queue, after?.spec?.maxAttempts], ["default", 5]);

    await assert.rejects(
      tasks.setTaskTypeDefaults({ defaults: { type: "x", maxAttempts: 101 } }, as),
      (e: unknown) =>
        e instanceof ConnectError && e.code === Code.InvalidArgument &&
        /defaults.max_attempts/.test(e.message),
    );
  } finally {
    await server.close();
  }
});
