import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import type { Handler, TaskContext } from "./handler.ts";
import { createMemoryLogger } from "./log.ts";
import { type AttemptInfo, TaskRun } from "./_task_run.ts";

function setup(handler: Handler | undefined, info: Partial<AttemptInfo> = {}) {
  const clock = new ManualClock();
  const log = createMemoryLogger();
  const progress: [number, string][] = [];
  const run = new TaskRun(
    {
      taskId: "t1",
      leaseId: "l1",
      type: "work",
      queue: "default",
      attempt: 2,
      payload: new Uint8Array(),
      ...info,
    },
    handler,
    { clock, log, abortGraceMs: 100, progress: (p, m) => progress.push([p, m]) },
  );
  return { clock, log, run, progress };
}

Deno.test("one attempt always ends in one outcome", async (t) => {
  await t.step("a handler that ignores its signal is given up on after the grace", async () => {
    const started = Promise.withResolvers<void>();
    const { clock, log, run } = setup(() => {
      started.resolve();
      return new Promise(() => {});
    });
    const outcome = run.run();
    await started.promise;
    run.abort("cancelled");
    await log.waitFor("task aborted");
    // The grace timer starts a few microtasks after the abort; wait for it, not for time.
    while (clock.pendingSleeps === 0) await Promise.resolve();
    clock.advance(100);
    const ended = await outcome;
    assert.equal(ended.case === "error" && ended.value.code, "cancelled");
    assert.ok(
      log.lines.some((l) =>
        l.msg === "handler ignored its abort signal: reporting the abort without waiting for it"
      ),
    );
  });

  await t.step("a synchronous throw is a retryable failure", async () => {
    const { run } = setup(() => {
      throw new Error("sync");
    });
    const outcome = await run.run();
    assert.ok(outcome.case === "error");
    const { stack, ...rest } = outcome.value;
    assert.deepEqual(rest, { message: "sync", code: "handler_error", retryable: true });
    // The stack goes with the result, so GetTask and the TUI show where the handler threw.
    assert.match(stack ?? "", /^Error: sync\n\s+at /);
  });

  await t.step("a thrown non-error is reported as text", async () => {
    const { run } = setup(() => Promise.reject("plain string"));
    const outcome = await run.run();
    assert.equal(outcome.case === "error" && outcome.value.message, "plain string");
  });

  await t.step("output over 1 MiB or not JSON-encodable fails for good", async () => {
    const big = await setup(() => new Uint8Array(1024 * 1024 + 1)).run.run();
    assert.equal(
      big.case === "error" && `${big.value.code}/${big.value.retryable}`,
      "output_too_large/false",
    );
    const bigint = await setup(() => ({ n: 1n })).run.run();
    assert.equal(
      bigint.case === "error" && `${bigint.value.code}/${bigint.value.retryable}`,
      "bad_output/false",
    );
  });

  await t.step("an attempt already past its deadline does not start", async () => {
    let called = false;
    const clock0 = new ManualClock().now();
    const { run } = setup(() => {
      called = true;
    }, { deadline: clock0 - 1 });
    const outcome = await run.run();
    assert.equal(outcome.case === "error" && outcome.value.code, "timeout");
    assert.equal(called, false);
  });

  await t.step("progress is clamped, trimmed, and ignored once the attempt is over", async () => {
    let saved: TaskContext | undefined;
    const { run, progress } = setup((_p, ctx) => {
      saved = ctx;
      ctx.progress(150, "x".repeat(300));
      ctx.progress(-5);
      ctx.progress(NaN);
    });
    await run.run();
    saved!.progress(50, "late");
    assert.deepEqual(progress, [[100, "x".repeat(200)], [0, ""]]);
    assert.equal(saved!.attempt, 2);
  });
});
