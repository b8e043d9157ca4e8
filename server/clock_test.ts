import assert from "node:assert/strict";
import { MAX_TIMER_MS, systemClock } from "./clock.ts";

Deno.test("a system-clock sleep longer than a timer can hold is capped, not turned into a 1 ms timer", async () => {
  const delays: number[] = [];
  const original = globalThis.setTimeout;
  // Records the delay each sleep asks for; nothing here waits for real time.
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return original(fn, 0);
  }) as typeof setTimeout;
  try {
    await systemClock.sleep(3_000_000_000);
    await systemClock.sleep(-5);
  } finally {
    globalThis.setTimeout = original;
  }
  assert.deepEqual(delays, [MAX_TIMER_MS, 0]);
});
