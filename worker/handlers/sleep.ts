/**
 * `sleep`: waits `ms` milliseconds (payload `{"ms": n}`) and returns `{"slept": n}`.
 * It stands in for slow work in demos and benchmarks, and shows the handler
 * contract: it waits on the worker's clock and stops as soon as its signal aborts.
 */
import { PermanentError } from "../errors.ts";
import type { Handler } from "../handler.ts";
import { json } from "../payload.ts";

/** A day: longer sleeps are a typo, and the task timeout caps them anyway. */
const MAX_MS = 24 * 60 * 60 * 1000;

export const sleep: Handler = async (payload, ctx) => {
  const { ms } = json<{ ms?: unknown }>(payload) ?? {};
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_MS) {
    throw new PermanentError(
      `payload.ms must be a number of milliseconds from 0 to ${MAX_MS}, e.g. {"ms": 250}`,
      {
        code: "bad_payload",
      },
    );
  }
  // Said at once, so operators (and tests) see the worker really has the task.
  ctx.progress(0, `sleeping ${ms} ms`);
  await ctx.clock.sleep(ms, ctx.signal);
  return { slept: ms };
};
