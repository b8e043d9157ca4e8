import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { createMemoryLogger } from "./log.ts";
import { startLoop } from "./loop.ts";

/** `promise`, or a failure after `ms` (a regression here would otherwise hang: the manual clock never moves). */
async function within<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise and its resolver, so a test can hold an iteration open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

Deno.test("a kick during an iteration runs another at once, without waiting out the interval", async () => {
  const clock = new ManualClock();
  const held = gate();
  const entered = gate();
  const second = gate();
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 60_000, clock, log: createMemoryLogger() }, async () => {
    runs++;
    if (runs === 1) {
      entered.open();
      await held.promise;
    }
    if (runs === 2) second.open();
  });
  await entered.promise;
  // The change that kicks comes after the first iteration read its state.
  loop.kick();
  held.open();
  // The manual clock never moves: only the kick can bring the second iteration.
  await within("the kicked second iteration", second.promise);
  assert.equal(runs, 2);
  await loop.stop();
});

Deno.test("a failed iteration waits out the interval even when kicked while it ran", async () => {
  const clock = new ManualClock();
  const entered = gate();
  const held = gate();
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 1000, clock, log: createMemoryLogger() }, async () => {
    runs++;
    if (runs === 1) {
      entered.open();
      await held.promise;
      throw new Error("postgres went away");
    }
  });
  await entered.promise;
  loop.kick();
  held.open();
  // Parked in its sleep after the failure, not looping.
  while (clock.pendingSleeps === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(runs, 1);
  clock.advance(1000);
  while (runs < 2) await new Promise((resolve) => setTimeout(resolve, 0));
  await loop.stop();
});
