import assert from "node:assert/strict";
import type { ConnectRequest } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { assign, assignValue, welcome } from "./_scripted_server.ts";
import { Gate, startHarness } from "./_testing.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** The Assigns an AssignBatch carries. */
function assignsOf(...taskIds: string[]) {
  return taskIds.map((taskId) => assignValue({ taskId, type: "work" }));
}

function resultsIn(request: ConnectRequest): string[] {
  const m = request.message;
  if (m.case === "results") return m.value.results.map((r) => r.taskId);
  if (m.case === "result") return [m.value.taskId];
  return [];
}

Deno.test("the worker's batched messages", async (t) => {
  await t.step("Hello asks for batches, unless the worker is built with batches: false", async () => {
    for (const batches of [undefined, false]) {
      await using h = await startHarness({ handlers: { work: new Gate().handler }, batches });
      const stream = await h.server.nextStream();
      const hello = await stream.nextOf("hello");
      assert.equal(hello.batches, batches ?? true);
    }
  });

  await t.step(
    "with a server that batches: a ResponseBatch's Assigns run, and results that end in one turn share a ResultBatch",
    async () => {
      const gate = new Gate();
      await using h = await startHarness({ concurrency: 3, handlers: { work: gate.handler } });
      const stream = await h.server.nextStream();
      await stream.nextOf("hello");
      stream.send(welcome(1000, 2000, true));
      await h.log.waitFor("connected");
      stream.send({ case: "batch", value: { assigns: assignsOf("a", "b", "c") } });
      for (const id of ["a", "b", "c"]) await gate.started(id);
      gate.release("b", { n: 2 });
      gate.release("a", { n: 1 });
      gate.release("c", { n: 3 });
      const together = await stream.nextOf("results");
      assert.deepEqual(together.results.map((r) => r.taskId), ["b", "a", "c"]);
      assert.deepEqual(
        together.results.map((r) => r.outcome.case === "output" ? decode(r.outcome.value) : ""),
        ['{"n":2}', '{"n":1}', '{"n":3}'],
      );
      // A ResponseBatch's acks are read one by one, before its Assigns: a refused one is logged as alone.
      stream.send({
        case: "batch",
        value: {
          resultAcks: [
            { taskId: "b", leaseId: "lease-b", accepted: true },
            { taskId: "a", leaseId: "lease-a", accepted: false, reason: "lease expired" },
            { taskId: "c", leaseId: "lease-c", accepted: true },
          ],
          assigns: assignsOf("d"),
        },
      });
      const refused = await h.log.waitFor("result refused: the lease was lost");
      assert.equal(refused.task_id, "a");
      // A result alone goes at once, as a batch of one: no timer holds it back.
      await gate.started("d");
      gate.release("d");
      assert.deepEqual((await stream.nextOf("results")).results.map((r) => r.taskId), ["d"]);
    },
  );

  await t.step(
    "with a server that does not batch (Welcome.batches unset), results go one a message",
    async () => {
      const gate = new Gate();
      await using h = await startHarness({ concurrency: 3, handlers: { work: gate.handler } });
      const stream = await h.connect();
      for (const id of ["a", "b", "c"]) stream.send(assign({ taskId: id, type: "work" }));
      for (const id of ["a", "b", "c"]) await gate.started(id);
      for (const id of ["a", "b", "c"]) gate.release(id);
      const seen: ConnectRequest[] = [];
      while (seen.flatMap(resultsIn).length < 3) {
        const request = await stream.next();
        assert.notEqual(request.message.case, "results");
        seen.push(request);
      }
      assert.deepEqual(seen.flatMap(resultsIn), ["a", "b", "c"]);
    },
  );
});
