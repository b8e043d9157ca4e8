import assert from "node:assert/strict";
import { Outbox } from "./_outbox.ts";

Deno.test("Outbox", async (t) => {
  await t.step("refuses pushes past its capacity: it never grows without limit", () => {
    const outbox = new Outbox<number>(3);
    assert.ok(outbox.push(1));
    assert.ok(outbox.push(2));
    assert.ok(outbox.push(3));
    assert.equal(outbox.push(4), false);
    assert.equal(outbox.size, 3);
  });

  await t.step("a keyed push replaces the pending message with that key, in its place", async () => {
    const outbox = new Outbox<string>(3);
    outbox.push("hello");
    outbox.push("beat 1", "heartbeat");
    outbox.push("progress 10", "p:l1");
    // Full, but keyed messages still update in place.
    assert.ok(outbox.push("beat 2", "heartbeat"));
    assert.ok(outbox.push("progress 90", "p:l1"));
    assert.equal(outbox.push("result"), false);
    outbox.close();
    assert.deepEqual(await Array.fromAsync(outbox), ["hello", "beat 2", "progress 90"]);
  });

  await t.step(
    "pending(key) is the queued message until the reader takes it, and may be changed in place",
    async () => {
      const outbox = new Outbox<{ ids: string[] }>(4);
      const reader = outbox[Symbol.asyncIterator]();
      outbox.push({ ids: ["a"] }, "results:1");
      outbox.pending("results:1")!.ids.push("b");
      assert.deepEqual((await reader.next()).value, { ids: ["a", "b"] });
      assert.equal(outbox.pending("results:1"), undefined);
    },
  );

  await t.step("a key is free again once its message has been taken", async () => {
    const outbox = new Outbox<string>(4);
    const reader = outbox[Symbol.asyncIterator]();
    outbox.push("beat 1", "heartbeat");
    assert.deepEqual(await reader.next(), { done: false, value: "beat 1" });
    outbox.push("beat 2", "heartbeat");
    assert.deepEqual(await reader.next(), { done: false, value: "beat 2" });
  });

  await t.step("the reader waits for messages and ends after close, once the queue is empty", async () => {
    const outbox = new Outbox<number>(4);
    const read = Array.fromAsync(outbox);
    outbox.push(1);
    await Promise.resolve();
    outbox.push(2);
    outbox.close();
    assert.equal(outbox.push(3), false, "closed");
    assert.deepEqual(await read, [1, 2]);
  });
});
