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
/** Progress is reported at most this many times, and at most every STEP_MIN_MS. */
const STEPS = 10;
const STEP_MIN_MS = 100;

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
  // One sleep decides when it ends; beside it, a step loop reports how far it got.
  const steps = new AbortController();
  const reporting = reportSteps(ms, ctx, AbortSignal.any([ctx.signal, steps.signal]));
  try {
    await ctx.clock.sleep(ms, ctx.signal);
  } finally {
    steps.abort();
    await reporting;
  }
  ctx.progress(100, `slept ${ms} ms`);
  return { slept: ms };
};

async function reportSteps(ms: number, ctx: Parameters<Handler>[1], signal: AbortSignal): Promise<void> {
  const n = Math.max(1, Math.min(STEPS, Math.floor(ms / STEP_MIN_MS)));
  try {
    for (let i = 1; i < n; i++) {
      await ctx.clock.sleep(ms / n, signal);
      ctx.progress(Math.round((100 * i) / n), `slept ${Math.round((ms * i) / n)} of ${ms} ms`);
    }
  } catch {
    // Ended (or aborted) before the next step: nothing more to report.
  }
}
