import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { PermanentError, TaskAbortedError } from "../errors.ts";
import type { TaskContext } from "../handler.ts";
import { createMemoryLogger } from "../log.ts";
import { builtinHandlers, noop, sleep } from "./mod.ts";

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function context(
  clock: ManualClock,
  signal = new AbortController().signal,
  progress: (percent: number) => void = () => {},
): TaskContext {
  return {
    taskId: "t1",
    attempt: 1,
    type: "sleep",
    queue: "default",
    signal,
    deadline: undefined,
    progress,
    log: createMemoryLogger(),
    clock,
  };
}

Deno.test("built-in handlers", async (t) => {
  await t.step("are email.send, noop and sleep", () => {
    assert.deepEqual(Object.keys(builtinHandlers()).toSorted(), [
      "email.send",
      "noop",
      "sleep",
      "webhook.post",
    ]);
  });

  await t.step("noop returns at once with no output", async () => {
    assert.equal(await noop(new Uint8Array(), context(new ManualClock())), undefined);
  });

  await t.step("sleep waits on the worker's clock", async () => {
    const clock = new ManualClock();
    let done = false;
    const slept = Promise.resolve(sleep(bytes({ ms: 500 }), context(clock))).then((v) => (done = true, v));
    await Promise.resolve();
    clock.advance(499);
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1);
    assert.deepEqual(await slept, { slept: 500 });
  });

  await t.step("sleep reports its progress as it goes, not only 0 %", async () => {
    const clock = new ManualClock();
    const reported: number[] = [];
    const slept = Promise.resolve(
      sleep(bytes({ ms: 1000 }), context(clock, undefined, (p) => reported.push(p))),
    );
    const settle = async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    await settle();
    for (let step = 0; step < 3; step++) {
      clock.advance(100);
      await settle();
    }
    assert.deepEqual(reported, [0, 10, 20, 30]);
    clock.advance(700);
    assert.deepEqual(await slept, { slept: 1000 });
    assert.equal(reported.at(-1), 100);
  });

  await t.step("sleep stops when its signal aborts", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const slept = Promise.resolve(sleep(bytes({ ms: 60_000 }), context(clock, controller.signal)));
    controller.abort(new TaskAbortedError("cancelled", "cancelled"));
    await assert.rejects(slept, TaskAbortedError);
  });

  await t.step("sleep refuses a payload without a usable ms, for good", async () => {
    for (const payload of [{}, { ms: -1 }, { ms: "5" }, null]) {
      await assert.rejects(
        Promise.resolve(sleep(bytes(payload), context(new ManualClock()))),
        PermanentError,
      );
    }
  });
});
