import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { endOnSignal } from "./lifecycle.ts";

/** V8's collector, made callable for this process (the flag only adds the `gc` global). */
function collector(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
}

/** A stream that yields what `push` gives it, and stays open until `end`. */
function openStream<T>() {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const stream = (async function* () {
    while (true) {
      while (queue.length > 0) yield queue.shift()!;
      if (ended) return;
      await new Promise<void>((resolve) => wake = resolve);
    }
  })();
  return {
    stream,
    push(value: T) {
      queue.push(value);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}

Deno.test("a long stream passed through endOnSignal does not keep the messages it already passed on", async () => {
  const gc = collector();
  const source = openStream<{ payload: Uint8Array }>();
  const drain = new AbortController();
  const out = endOnSignal(source.stream, drain.signal);
  const passed: WeakRef<object>[] = [];
  for (let i = 0; i < 200; i++) {
    const message = { payload: new Uint8Array(1024) };
    passed.push(new WeakRef(message));
    source.push(message);
    const step = await out.next();
    assert.equal(step.value, message);
  }
  // The stream is still open (a worker's stream lives for hours): the next message is awaited.
  const next = out.next();
  // WeakRef targets live until the current job ends: collect from a later task.
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc();
  const kept = passed.filter((ref) => ref.deref() !== undefined).length;
  assert.ok(kept <= 1, `${kept} of 200 passed messages are still reachable`);
  drain.abort();
  assert.deepEqual(await next, { value: undefined, done: true });
});

Deno.test("endOnSignal passes messages through, then ends cleanly when the signal aborts", async () => {
  const source = openStream<number>();
  const drain = new AbortController();
  const out = endOnSignal(source.stream, drain.signal);
  source.push(1);
  source.push(2);
  assert.deepEqual(await out.next(), { value: 1, done: false });
  assert.deepEqual(await out.next(), { value: 2, done: false });
  const parked = out.next();
  drain.abort();
  assert.deepEqual(await parked, { value: undefined, done: true });
  const after = endOnSignal(openStream<number>().stream, drain.signal);
  assert.deepEqual(await after.next(), { value: undefined, done: true });
});

Deno.test("endOnSignal ends when its source ends", async () => {
  const source = openStream<number>();
  const out = endOnSignal(source.stream, new AbortController().signal);
  source.push(7);
  source.end();
  assert.deepEqual(await Array.fromAsync(out), [7]);
});
