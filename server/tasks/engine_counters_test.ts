import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { createMemoryLogger } from "../log.ts";
import { IntervalLoop } from "./_engine_parts.ts";
import { EngineCounters } from "./engine_counters.ts";

Deno.test("an engine loop's failed iterations are counted by loop, and it goes on", async () => {
  const counters = new EngineCounters();
  const clock = new ManualClock(0);
  let runs = 0;
  const loop = new IntervalLoop("promoter", { clock, log: createMemoryLogger(), counters }, 1000, () => {
    runs++;
    return Promise.reject(new Error("postgres went away"));
  });
  const stop = new AbortController();
  loop.start(stop.signal);
  try {
    for (const want of [1, 2, 3]) {
      // The loop parks on the manual clock after each failure, which is counted by then.
      for (let i = 0; i < 1000 && clock.pendingSleeps === 0; i++) await new Promise((r) => setTimeout(r, 0));
      assert.equal(clock.pendingSleeps, 1);
      assert.equal(runs, want);
      assert.equal(counters.loopFailures.get("promoter"), want);
      clock.advance(1000);
    }
  } finally {
    stop.abort();
    await loop.stop();
  }
  assert.deepEqual([...counters.loopFailures], [["promoter", 3]]);
});

Deno.test("a claim cut short is counted by the kind of limit", () => {
  const counters = new EngineCounters();
  counters.claimLimited(0);
  counters.claimLimited(250);
  counters.claimLimited(0);
  assert.deepEqual(counters.throttled, { rate: 1, concurrency: 2 });
});
