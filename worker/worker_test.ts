import assert from "node:assert/strict";
import type { ConnectRequest } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { PermanentError, TaskAbortedError } from "./errors.ts";
import { assign } from "./_scripted_server.ts";
import { Gate, startHarness } from "./_testing.ts";
import { createWorker, WORKER_VERSION, type WorkerOptions } from "./worker.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("the worker's session with a server", async (t) => {
  await t.step(
    "Hello comes first and carries the worker id, queues, concurrency and task types",
    async () => {
      const gate = new Gate();
      await using h = await startHarness({
        concurrency: 3,
        labels: { region: "eu" },
        handlers: { "email.send": gate.handler, "report.build": gate.handler },
      });
      const stream = await h.server.nextStream();
      assert.equal(stream.headers.get("authorization"), "Bearer test-key");
      const first = await stream.next();
      assert.equal(first.message.case, "hello");
      const hello = first.message.value;
      assert.equal(hello.workerId, "worker-1");
      assert.deepEqual(hello.queues, ["emails", "default"]);
      assert.equal(hello.concurrency, 3);
      assert.deepEqual(hello.taskTypes, ["email.send", "report.build"]);
      assert.deepEqual(hello.labels, { region: "eu" });
      assert.equal(hello.version, WORKER_VERSION);
      assert.equal(h.worker.state, "connecting");
    },
  );

  await t.step("heartbeats go out at the Welcome's interval and list every held lease", async () => {
    const gate = new Gate();
    await using h = await startHarness({ handlers: { work: gate.handler } });
    const stream = await h.connect(1000, 2000);
    assert.equal(h.worker.state, "connected");
    stream.send(assign({ taskId: "t1", leaseId: "l1", type: "work" }));
    stream.send(assign({ taskId: "t2", leaseId: "l2", type: "work" }));
    await gate.started("t1");
    const t2 = await gate.started("t2");

    // Not yet due at 999 ms: the progress reported after it is the next message.
    h.clock.advance(999);
    t2.progress(10, "warming up");
    const early = await stream.next();
    assert.equal(early.message.case, "progress");
    const { taskId, leaseId, percent, message } = early.message.value;
    assert.deepEqual([taskId, leaseId, percent, message], ["t2", "l2", 10, "warming up"]);

    h.clock.advance(1);
    const beat = await stream.nextOf("heartbeat");
    assert.deepEqual(beat.leases.map((l) => [l.taskId, l.leaseId]), [["t1", "l1"], ["t2", "l2"]]);
    assert.equal(beat.load, 1);

    gate.release("t1");
    await stream.nextOf("result");
    h.clock.advance(1000);
    const next = await stream.nextOf("heartbeat");
    assert.deepEqual(next.leases.map((l) => l.taskId), ["t2"]);
    assert.equal(next.load, 0.5);
  });

  await t.step("a handler's output becomes a Result with the output", async () => {
    const gate = new Gate();
    await using h = await startHarness({
      handlers: { work: gate.handler, bytes: () => new Uint8Array([1, 2, 3]), text: () => "hi" },
    });
    const stream = await h.connect();
    stream.send(assign({ taskId: "t1", type: "work", payload: { n: 1 } }));
    const ctx = await gate.started("t1");
    assert.deepEqual([ctx.taskId, ctx.attempt, ctx.type, ctx.queue], ["t1", 1, "work", "default"]);
    gate.release("t1", { sent: true });
    const result = await stream.nextOf("result");
    assert.equal(result.taskId, "t1");
    assert.equal(result.leaseId, "lease-t1");
    assert.equal(result.outcome.case, "output");
    assert.deepEqual(JSON.parse(decode(result.outcome.value as Uint8Array)), { sent: true });
    stream.send({ case: "resultAck", value: { taskId: "t1", leaseId: "lease-t1", accepted: true } });

    stream.send(assign({ taskId: "t2", type: "bytes" }));
    const raw = await stream.nextOf("result");
    assert.deepEqual(raw.outcome.value, new Uint8Array([1, 2, 3]));
    stream.send(assign({ taskId: "t3", type: "text" }));
    const text = await stream.nextOf("result");
    assert.equal(decode(text.outcome.value as Uint8Array), '"hi"');
  });

  await t.step("an unknown type fails for good: no handler for type X", async () => {
    await using h = await startHarness({ handlers: { work: () => {} } });
    const stream = await h.connect();
    stream.send(assign({ taskId: "t1", type: "video.encode" }));
    const result = await stream.nextOf("result");
    assert.equal(result.outcome.case, "error");
    const { message, code, retryable } = result.outcome.value;
    assert.deepEqual([message, code, retryable], ["no handler for type video.encode", "no_handler", false]);
  });

  await t.step(
    "a thrown error is retryable; a PermanentError is not; a refused result is logged",
    async () => {
      const gate = new Gate();
      await using h = await startHarness({ handlers: { work: gate.handler } });
      const stream = await h.connect();
      stream.send(assign({ taskId: "t1", type: "work" }));
      stream.send(assign({ taskId: "t2", type: "work" }));
      await gate.started("t1");
      await gate.started("t2");
      gate.fail("t1", Object.assign(new Error("smtp said 421"), { code: "smtp_421" }));
      const first = await stream.nextOf("result");
      assert.equal(first.outcome.case, "error");
      assert.equal(first.outcome.value.message, "smtp said 421");
      assert.equal(first.outcome.value.code, "smtp_421");
      assert.equal(first.outcome.value.retryable, true);

      gate.fail("t2", new PermanentError("mailbox does not exist", { code: "smtp_550" }));
      const second = await stream.nextOf("result");
      assert.equal(second.outcome.case, "error");
      assert.equal(second.outcome.value.code, "smtp_550");
      assert.equal(second.outcome.value.retryable, false);

      stream.send({
        case: "resultAck",
        value: { taskId: "t2", leaseId: "lease-t2", accepted: false, reason: "lease expired" },
      });
      const refused = await h.log.waitFor("result refused: the lease was lost");
      assert.equal(refused.task_id, "t2");
      assert.equal(refused.reason, "lease expired");
    },
  );

  await t.step("Cancel aborts the handler's signal and a Result follows", async () => {
    const gate = new Gate();
    await using h = await startHarness({ handlers: { work: gate.handler } });
    const stream = await h.connect();
    stream.send(assign({ taskId: "t1", type: "work" }));
    const ctx = await gate.started("t1");
    stream.send({ case: "cancel", value: { taskId: "t1", leaseId: "lease-t1", reason: "cancelled" } });
    const result = await stream.nextOf("result");
    assert.ok(ctx.signal.aborted);
    assert.ok(ctx.signal.reason instanceof TaskAbortedError);
    assert.equal(ctx.signal.reason.reason, "cancelled");
    assert.equal(result.taskId, "t1");
    assert.equal(result.outcome.case, "error");
    assert.equal(result.outcome.value.code, "cancelled");
    assert.equal(result.outcome.value.retryable, false);
  });

  await t.step("the deadline aborts the handler and reports a retryable timeout", async () => {
    const gate = new Gate();
    await using h = await startHarness({ handlers: { work: gate.handler } });
    const stream = await h.connect(60_000, 120_000);
    stream.send(assign({ taskId: "t1", type: "work", deadline: h.clock.now() + 5000 }));
    const ctx = await gate.started("t1");
    assert.equal(ctx.deadline, h.clock.now() + 5000);
    h.clock.advance(4999);
    ctx.progress(50);
    assert.equal((await stream.next()).message.case, "progress", "not aborted before the deadline");
    assert.equal(ctx.signal.aborted, false);
    h.clock.advance(1);
    const result = await stream.nextOf("result");
    assert.equal((ctx.signal.reason as TaskAbortedError).reason, "timeout");
    assert.equal(result.outcome.case, "error");
    assert.equal(result.outcome.value.code, "timeout");
    assert.equal(result.outcome.value.retryable, true);
  });

  await t.step("exactly one Result per assignment, in the order the handlers end", async () => {
    const gate = new Gate();
    await using h = await startHarness({ concurrency: 3, handlers: { work: gate.handler } });
    const stream = await h.connect();
    for (const id of ["a", "b", "c"]) stream.send(assign({ taskId: id, type: "work" }));
    for (const id of ["a", "b", "c"]) await gate.started(id);
    gate.release("c");
    gate.fail("a", new Error("boom"));
    gate.release("b");
    const skipped: ConnectRequest[] = [];
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await stream.nextOf("result", skipped)).taskId);
    assert.deepEqual(ids, ["c", "a", "b"]);
    h.clock.advance(1000);
    const beat = await stream.nextOf("heartbeat", skipped);
    assert.deepEqual(beat.leases, []);
    assert.equal(skipped.filter((r) => r.message.case === "result").length, 0);
  });
});

Deno.test("an Assign beyond the credits is refused, not run", async () => {
  const gate = new Gate();
  await using h = await startHarness({ concurrency: 1, handlers: { work: gate.handler } });
  const stream = await h.connect();
  stream.send(assign({ taskId: "t1", type: "work" }));
  await gate.started("t1");
  // A Cancel for a lease the worker does not hold changes nothing.
  stream.send({ case: "cancel", value: { taskId: "t9", leaseId: "lease-t9", reason: "cancelled" } });
  stream.send(assign({ taskId: "t2", type: "work" }));
  const refused = await stream.nextOf("result");
  assert.equal(refused.taskId, "t2");
  assert.equal(refused.outcome.case === "error" && refused.outcome.value.code, "no_free_slot");
  gate.release("t1");
  assert.equal((await stream.nextOf("result")).taskId, "t1");
});

Deno.test("createWorker refuses options that cannot work", () => {
  const base = {
    url: "http://127.0.0.1:9",
    apiKey: "k",
    queues: ["q"],
    concurrency: 1,
    handlers: { noop: () => {} },
  };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ apiKey: "" }, /apiKey is empty/],
    [{ url: undefined }, /url is empty/],
    [{ queues: [] }, /1–32 non-empty queues/],
    [{ concurrency: 0 }, /from 1 to 1000, not 0/],
    [{ concurrency: 1.5 }, /not 1.5/],
    [{ handlers: {} }, /handlers is empty/],
    [{ handlers: { x: "nope" } }, /handler for x is not a function/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => createWorker({ ...base, ...change } as WorkerOptions), message);
  }
});
