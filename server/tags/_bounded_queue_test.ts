import assert from "node:assert/strict";
import { BoundedQueue } from "./_bounded_queue.ts";

const overflow = () => new Error("overflow");

Deno.test("items come out in order; waiting consumers wake on push", async () => {
  const queue = new BoundedQueue<number>(3, new AbortController().signal, overflow);
  const it = queue[Symbol.asyncIterator]();
  const pending = it.next();
  queue.push(1);
  queue.push(2);
  assert.deepEqual(await pending, { value: 1, done: false });
  assert.deepEqual(await it.next(), { value: 2, done: false });
  queue.close();
  assert.equal((await it.next()).done, true);
});

Deno.test("more than the capacity cuts the consumer off and frees the backlog", async () => {
  const queue = new BoundedQueue<number>(2, new AbortController().signal, overflow);
  assert.equal(queue.push(1), true);
  assert.equal(queue.push(2), true);
  assert.equal(queue.push(3), false);
  assert.equal(queue.push(4), false);
  assert.equal(queue.overflowed, true);
  await assert.rejects(queue[Symbol.asyncIterator]().next(), /overflow/);
});

Deno.test("an abort ends a waiting consumer", async () => {
  const abort = new AbortController();
  const queue = new BoundedQueue<number>(2, abort.signal, overflow);
  const pending = queue[Symbol.asyncIterator]().next();
  abort.abort();
  assert.equal((await pending).done, true);
  assert.equal(queue.push(1), false);
});

Deno.test("fail ends iteration with the error at once", async () => {
  const queue = new BoundedQueue<number>(5, new AbortController().signal, overflow);
  queue.push(1);
  queue.fail(new Error("gap"));
  assert.equal(queue.push(2), false);
  await assert.rejects(queue[Symbol.asyncIterator]().next(), /gap/);
});
