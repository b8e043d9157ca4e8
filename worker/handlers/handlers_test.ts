import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { PermanentError, TaskAbortedError } from "../errors.ts";
import type { TaskContext } from "../handler.ts";
import { createMemoryLogger } from "../log.ts";
import { builtinHandlers, noop, sleep, webhookPost } from "./mod.ts";

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
  await t.step("are email.send, noop, sleep and webhook.post", () => {
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

Deno.test("webhook.post", async (t) => {
  const answers = [503, 429, 404, 202];
  const received: { body: unknown; header: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({ body: await req.json(), header: req.headers.get("x-token") });
    return new Response("answer text", { status: answers.shift() ?? 200 });
  });
  const url = `http://127.0.0.1:${server.addr.port}/hook`;
  const call = async (payload: unknown): Promise<unknown> =>
    await webhookPost(bytes(payload), context(new ManualClock()));
  try {
    await t.step("5xx and 429 are retried, with the status as the code", async () => {
      for (const code of ["http_503", "http_429"]) {
        const error = await call({ url, body: { n: 1 } }).then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof Error && !(error instanceof PermanentError));
        assert.equal((error as { code?: string }).code, code);
        assert.match(error.message, /answer text/);
      }
    });
    await t.step("another 4xx fails for good", async () => {
      await assert.rejects(
        call({ url, body: {} }),
        (e: unknown) => e instanceof PermanentError && e.code === "http_404",
      );
    });
    await t.step("2xx succeeds, the body POSTed as JSON with the given headers", async () => {
      assert.deepEqual(await call({ url, body: { status: "firing" }, headers: { "X-Token": "s3cret" } }), {
        status: 202,
      });
      assert.deepEqual(received.at(-1), { body: { status: "firing" }, header: "s3cret" });
    });
    await t.step("an unreachable receiver is retried", async () => {
      const error = await call({ url: "http://127.0.0.1:9/hook", body: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof Error && !(error instanceof PermanentError));
      assert.equal((error as { code?: string }).code, "http_unreachable");
    });
    await t.step("a malformed payload fails for good, naming the field", async () => {
      for (
        const [payload, field] of [
          [{ body: {} }, /payload\.url/],
          [{ url: "ftp://example.com/x", body: {} }, /payload\.url must be http/],
          [{ url }, /payload\.body is required/],
          [{ url, body: {}, headers: { "X-A": "a\r\nB: b" } }, /payload\.headers\.X-A/],
        ] as const
      ) {
        await assert.rejects(
          call(payload),
          (e: unknown) => e instanceof PermanentError && field.test(e.message),
        );
      }
    });
  } finally {
    await server.shutdown();
  }
});
