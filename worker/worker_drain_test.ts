import assert from "node:assert/strict";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { TaskAbortedError } from "./errors.ts";
import { assign } from "./_scripted_server.ts";
import { Gate, startHarness } from "./_testing.ts";
import { createWorker } from "./worker.ts";

Deno.test("draining and stopping", async (t) => {
  await t.step(
    "Drain from the server: in-flight work finishes and reports, nothing new runs, the stream closes",
    async () => {
      const gate = new Gate();
      let runs = 0;
      await using h = await startHarness({
        handlers: { work: (payload, ctx) => (runs++, gate.handler(payload, ctx)) },
      });
      const stream = await h.connect();
      stream.send(assign({ taskId: "t1", type: "work" }));
      await gate.started("t1");
      stream.send({ case: "drain", value: { deadline: timestampFromMs(h.clock.now() + 30_000) } });
      await h.log.waitFor("server asked this worker to drain");
      assert.equal(h.worker.state, "draining");

      // A server that assigns anyway gets the task straight back.
      stream.send(assign({ taskId: "t2", type: "work" }));
      const refused = await stream.nextOf("result");
      assert.equal(refused.taskId, "t2");
      assert.equal(refused.outcome.case, "error");
      assert.equal(refused.outcome.value.code, "worker_draining");
      assert.equal(refused.outcome.value.retryable, true);

      gate.release("t1", "done");
      const result = await stream.nextOf("result");
      assert.equal(result.taskId, "t1");
      assert.equal(result.outcome.case, "output");
      await stream.requestsDone;
      stream.end();
      await h.done;
      assert.equal(h.worker.state, "stopped");
      assert.equal(runs, 1);
      assert.equal(h.log.lines.filter((l) => l.msg === "reconnecting").length, 0);
    },
  );

  await t.step(
    "drain() does the same from the worker's side and resolves when the worker is done",
    async () => {
      const gate = new Gate();
      await using h = await startHarness({ handlers: { work: gate.handler } });
      const stream = await h.connect();
      stream.send(assign({ taskId: "t1", type: "work" }));
      await gate.started("t1");
      const drained = h.worker.drain();
      assert.equal(h.worker.state, "draining");
      gate.release("t1");
      assert.equal((await stream.nextOf("result")).outcome.case, "output");
      await stream.requestsDone;
      stream.end();
      await drained;
      await h.done;
      assert.equal(h.worker.state, "stopped");
    },
  );

  await t.step("a drain past its deadline aborts what still runs and reports it as retryable", async () => {
    const gate = new Gate();
    await using h = await startHarness({ handlers: { work: gate.handler }, drainTimeoutMs: 1000 });
    const stream = await h.connect(60_000, 120_000);
    stream.send(assign({ taskId: "t1", type: "work" }));
    const ctx = await gate.started("t1");
    const drained = h.worker.drain();
    h.clock.advance(1000);
    const result = await stream.nextOf("result");
    assert.equal((ctx.signal.reason as TaskAbortedError).reason, "shutdown");
    assert.equal(result.outcome.case, "error");
    assert.equal(result.outcome.value.code, "worker_shutdown");
    assert.equal(result.outcome.value.retryable, true);
    await stream.requestsDone;
    stream.end();
    await drained;
  });

  await t.step("a server that keeps the stream open after the drain is hung up on", async () => {
    await using h = await startHarness({ abortGraceMs: 2000 });
    const stream = await h.connect(60_000, 120_000);
    const drained = h.worker.drain();
    await stream.requestsDone;
    await h.log.waitFor("drained: closing the stream");
    h.clock.advance(2000);
    await drained;
    await h.done;
    assert.ok(
      h.log.lines.some((l) => l.msg === "the server did not end the stream after the drain: closing it"),
    );
  });

  await t.step("stop() aborts running handlers at once and reports nothing", async () => {
    const gate = new Gate();
    await using h = await startHarness({ handlers: { work: gate.handler } });
    const stream = await h.connect();
    stream.send(assign({ taskId: "t1", type: "work" }));
    const ctx = await gate.started("t1");
    await h.worker.stop();
    await h.done;
    assert.equal((ctx.signal.reason as TaskAbortedError).reason, "shutdown");
    assert.equal(h.worker.state, "stopped");
    await stream.requestsDone;
    const left = [];
    while (true) {
      try {
        left.push((await stream.next()).message.case);
      } catch {
        break;
      }
    }
    assert.deepEqual(left, [], "no result after stop()");
  });

  await t.step("drain() before start() leaves nothing to run", async () => {
    const worker = createWorker({
      url: "http://127.0.0.1:9",
      apiKey: "k",
      queues: ["q"],
      concurrency: 1,
      handlers: { noop: () => {} },
    });
    await worker.drain();
    assert.equal(worker.state, "stopped");
    await worker.start();
    assert.equal(worker.state, "stopped");
  });
});
