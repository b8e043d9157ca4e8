import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConnectResponseSchema } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { BATCH_BYTES, checkResultBatch, HeldAcks, MAX_BATCH, responseMessages } from "./_stream_batches.ts";

const ack = (taskId: string) => ({ taskId, leaseId: `l-${taskId}`, accepted: true });
const assign = (taskId: string, payloadBytes = 0) => ({
  task: { id: taskId, spec: { payload: new Uint8Array(payloadBytes) } },
  leaseId: `l-${taskId}`,
});

/** Each message as its kind and the ids it carries. */
function shape(messages: ReturnType<typeof responseMessages>): string[] {
  return messages.map((init) => {
    const m = create(ConnectResponseSchema, { message: init }).message;
    if (m.case === "batch") {
      const acks = m.value.resultAcks.map((a) => a.taskId);
      const assigns = m.value.assigns.map((a) => a.task?.id);
      return `batch ${acks.join(",")} | ${assigns.join(",")}`;
    }
    if (m.case === "resultAck") return `ack ${m.value.taskId}`;
    if (m.case === "assign") return `assign ${m.value.task?.id}`;
    return String(m.case);
  });
}

Deno.test("responseMessages", async (t) => {
  await t.step("without batches: one message each, acks first", () => {
    assert.deepEqual(shape(responseMessages([ack("a")], [assign("x"), assign("y")], false, 10)), [
      "ack a",
      "assign x",
      "assign y",
    ]);
  });

  await t.step("with batches: acks and assigns together; a lone item goes as itself", () => {
    assert.deepEqual(shape(responseMessages([ack("a")], [assign("x"), assign("y")], true, 10)), [
      "batch a | x,y",
    ]);
    assert.deepEqual(shape(responseMessages([], [assign("x")], true, 10)), ["assign x"]);
    assert.deepEqual(shape(responseMessages([ack("a")], [], true, 10)), ["ack a"]);
  });

  await t.step("each list holds at most the concurrency", () => {
    const assigns = ["p", "q", "r", "s", "t"].map((id) => assign(id));
    assert.deepEqual(shape(responseMessages([ack("a"), ack("b"), ack("c")], assigns, true, 2)), [
      "batch a,b | ",
      "batch c | p,q",
      "batch  | r,s",
      "assign t",
    ]);
  });

  await t.step("payloads past BATCH_BYTES start a new message; a larger Assign goes alone", () => {
    const half = BATCH_BYTES / 2;
    const assigns = [assign("x", half), assign("y", half), assign("big", BATCH_BYTES * 2), assign("z")];
    assert.deepEqual(shape(responseMessages([], assigns, true, 100)), [
      "assign x",
      "assign y",
      "assign big",
      "assign z",
    ]);
  });
});

Deno.test("HeldAcks", async (t) => {
  await t.step("without batches, an ack goes at once even when asked to hold it", () => {
    const sent: string[] = [];
    const acks = new HeldAcks((m) => sent.push(...shape([m])), false, 10);
    acks.add([ack("a"), ack("b")], true);
    assert.deepEqual(sent, ["ack a", "ack b"]);
  });

  await t.step("with batches, held acks ride with the next Assigns, or go when flushed", () => {
    const sent: string[] = [];
    const acks = new HeldAcks((m) => sent.push(...shape([m])), true, 10);
    acks.add([ack("a")], true);
    acks.add([ack("b")], true);
    assert.deepEqual(sent, []);
    acks.withAssigns([assign("x")]);
    assert.deepEqual(sent, ["batch a,b | x"]);
    acks.add([ack("c")], true);
    acks.flush();
    acks.flush();
    acks.add([ack("d")], false);
    assert.deepEqual(sent, ["batch a,b | x", "ack c", "ack d"]);
  });

  await t.step("held acks are bounded: a worker refused faster than it is assigned gets them at once", () => {
    let sentAcks = 0;
    const acks = new HeldAcks(
      (m) => {
        const shown = shape([m])[0];
        sentAcks += shown.startsWith("batch") ? shown.slice(6).split(" | ")[0].split(",").length : 1;
      },
      true,
      2,
    );
    for (let i = 1; i <= 1000; i++) {
      acks.add([ack(`r${i}`)], true);
      assert.ok(i - sentAcks <= acks.holdMost, `${i - sentAcks} acks held after ${i}`);
    }
    assert.ok(sentAcks > 1000 - acks.holdMost - 1, "the rest went out");
  });
});

Deno.test("checkResultBatch: 1 to the concurrency, never past MAX_BATCH; else InvalidArgument", () => {
  checkResultBatch(1, 1);
  checkResultBatch(5, 5);
  checkResultBatch(MAX_BATCH, MAX_BATCH + 10);
  for (const [count, concurrency] of [[0, 5], [6, 5], [MAX_BATCH + 1, 5000]]) {
    assert.throws(
      () => checkResultBatch(count, concurrency),
      (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument,
    );
  }
});
