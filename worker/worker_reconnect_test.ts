import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRequest } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import type { TaskAbortedError } from "./errors.ts";
import { assign, welcome } from "./_scripted_server.ts";
import { Gate, startHarness } from "./_testing.ts";

Deno.test("losing the stream", async (t) => {
  await t.step(
    "the stream failing aborts running handlers, and the worker reconnects and says Hello again",
    async () => {
      const gate = new Gate();
      await using h = await startHarness({ handlers: { work: gate.handler } });
      const first = await h.connect();
      first.send(assign({ taskId: "t1", type: "work" }));
      const ctx = await gate.started("t1");
      first.fail(new ConnectError("server restarting", Code.Unavailable));

      const reconnecting = await h.log.waitFor("reconnecting");
      assert.equal((ctx.signal.reason as TaskAbortedError).reason, "lease_lost");
      assert.equal(h.worker.state, "reconnecting");
      // Full jitter over the first ceiling (250 ms), with the test's random() = 0.5.
      assert.equal(reconnecting.delay_ms, 125);

      h.clock.advance(124);
      assert.equal(h.worker.state, "reconnecting", "still waiting out the backoff");
      h.clock.advance(1);
      const second = await h.server.nextStream();
      const hello = await second.next();
      assert.equal(hello.message.case, "hello");
      assert.equal(
        hello.message.value.workerId,
        "worker-1",
        "the same id, so the server retires the old session",
      );
      second.send(welcome(1000, 2000));
      await h.log.waitFor("connected", 2);
      assert.equal(h.worker.state, "connected");

      // The aborted task's result belongs to the dead stream: none arrives on the new one.
      h.clock.advance(1000);
      const skipped: ConnectRequest[] = [];
      const beat = await second.nextOf("heartbeat", skipped);
      assert.deepEqual(beat.leases, []);
      assert.deepEqual(skipped, []);
    },
  );

  await t.step("failures before Welcome back off further, and a Welcome resets the backoff", async () => {
    await using h = await startHarness();
    const first = await h.connect();
    first.fail(new ConnectError("gone", Code.Unavailable));
    const delays: unknown[] = [];
    for (let n = 1; n <= 3; n++) {
      const line = await h.log.waitFor("reconnecting", n);
      delays.push(line.delay_ms);
      h.clock.advance(line.delay_ms as number);
      const stream = await h.server.nextStream();
      await stream.nextOf("hello");
      if (n < 3) {
        stream.fail(new ConnectError("still starting", Code.Unavailable));
        continue;
      }
      stream.send(welcome());
      await h.log.waitFor("connected", 2);
      stream.fail(new ConnectError("gone again", Code.Unavailable));
    }
    delays.push((await h.log.waitFor("reconnecting", 4)).delay_ms);
    assert.deepEqual(delays, [125, 250, 500, 125]);
  });

  await t.step("a dropped connection is noticed and the worker reconnects", async () => {
    const gate = new Gate();
    await using h = await startHarness({ handlers: { work: gate.handler } });
    const first = await h.connect();
    first.send(assign({ taskId: "t1", type: "work" }));
    const ctx = await gate.started("t1");
    h.server.dropConnections();
    const line = await h.log.waitFor("reconnecting");
    assert.equal((ctx.signal.reason as TaskAbortedError).reason, "lease_lost");
    h.clock.advance(line.delay_ms as number);
    const second = await h.server.nextStream();
    assert.equal((await second.next()).message.case, "hello");
  });

  await t.step("a server that ends the stream without a Drain is reconnected to", async () => {
    await using h = await startHarness();
    const first = await h.connect();
    first.end();
    const line = await h.log.waitFor("reconnecting");
    assert.ok(h.log.lines.some((l) => l.msg === "the server ended the stream"));
    h.clock.advance(line.delay_ms as number);
    const second = await h.server.nextStream();
    assert.equal((await second.next()).message.case, "hello");
  });

  await t.step("a refused key is not retried: start() rejects", async () => {
    await using h = await startHarness();
    const stream = await h.server.nextStream();
    await stream.nextOf("hello");
    stream.fail(new ConnectError("unknown API key", Code.Unauthenticated));
    await assert.rejects(
      h.done,
      (error: unknown) => error instanceof ConnectError && error.code === Code.Unauthenticated,
    );
    assert.equal(h.worker.state, "stopped");
    assert.equal(h.log.lines.filter((l) => l.msg === "reconnecting").length, 0);
  });
});
