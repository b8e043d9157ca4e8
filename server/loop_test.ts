import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { createMemoryLogger } from "./log.ts";
import { NextRun, startLoop } from "./loop.ts";

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

/** Until `ready()` holds, yielding to the event loop between looks (the manual clock never moves by itself). */
async function until(what: string, ready: () => boolean): Promise<void> {
  await within(
    what,
    (async () => {
      while (!ready()) await new Promise((resolve) => setTimeout(resolve, 0));
    })(),
  );
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

Deno.test("an iteration's returned wait is honoured on the injected clock, instead of the interval", async () => {
  const clock = new ManualClock(0);
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 60_000, clock, log: createMemoryLogger() }, () => {
    runs++;
    return Promise.resolve(NextRun.after(500));
  });
  try {
    await until("parked after the first iteration", () => clock.pendingSleeps === 1);
    clock.advance(499);
    assert.equal(clock.pendingSleeps, 1, "still waiting 1 ms before the chosen time");
    clock.advance(1);
    await until("the iteration 500 ms on", () => runs === 2);
    await until("parked again", () => clock.pendingSleeps === 1);
    assert.equal(runs, 2);
  } finally {
    await loop.stop();
  }
});

Deno.test("a wait chosen as a time on the clock is reckoned right before the loop sleeps", async () => {
  const clock = new ManualClock(0);
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 60_000, clock, log: createMemoryLogger() }, () => {
    runs++;
    const next = NextRun.at(clock.now() + 500);
    // Time passes after the iteration chose: it counts against the wait.
    clock.advance(200);
    return Promise.resolve(next);
  });
  try {
    await until("parked after the first iteration", () => clock.pendingSleeps === 1);
    clock.advance(299);
    assert.equal(clock.pendingSleeps, 1, "still waiting 1 ms before the chosen time");
    clock.advance(1);
    await until("the iteration at the chosen time", () => runs === 2);
  } finally {
    await loop.stop();
  }
});

Deno.test("a returned wait of 0 or less, or a time already passed, runs the next iteration at once", async () => {
  const clock = new ManualClock(0);
  const chosen = [NextRun.after(0), NextRun.after(-5), NextRun.at(-1), NextRun.after(60_000)];
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 60_000, clock, log: createMemoryLogger() }, () => {
    return Promise.resolve(chosen[runs++]);
  });
  try {
    // The manual clock never moves: only running at once brings the fourth iteration.
    await until("the fourth iteration, without the clock moving", () => runs === 4);
    await until("parked after the fourth", () => clock.pendingSleeps === 1);
    assert.equal(runs, 4);
  } finally {
    await loop.stop();
  }
});

Deno.test("a kick during a returned wait wakes the loop", async () => {
  const clock = new ManualClock(0);
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 1000, clock, log: createMemoryLogger() }, () => {
    runs++;
    return Promise.resolve(NextRun.after(60_000));
  });
  try {
    await until("parked after the first iteration", () => clock.pendingSleeps === 1);
    clock.advance(1000);
    assert.equal(clock.pendingSleeps, 1, "the interval is not the wait");
    assert.equal(runs, 1);
    loop.kick();
    await until("the kicked iteration, the clock 59 s short", () => runs === 2);
  } finally {
    await loop.stop();
  }
});

Deno.test("a failed iteration waits out the interval, whatever the one before it chose", async () => {
  const clock = new ManualClock(0);
  const log = createMemoryLogger();
  let runs = 0;
  const loop = startLoop("test", { intervalMs: 1000, clock, log }, () => {
    runs++;
    if (runs === 2) {
      // Kicked while it fails: still no iteration before the interval is out.
      loop.kick();
      return Promise.reject(new Error("postgres went away"));
    }
    return Promise.resolve(NextRun.after(runs === 1 ? 0 : 60_000));
  });
  try {
    await until("parked after the failed second iteration", () => clock.pendingSleeps === 1);
    assert.equal(runs, 2, "the first chose to run again at once; the failed second did not");
    assert.deepEqual(log.lines.map((l) => [l.level, l.loop, l.msg]), [
      ["error", "test", "loop iteration failed; retrying after the interval"],
    ]);
    clock.advance(999);
    assert.equal(clock.pendingSleeps, 1, "still waiting 1 ms before the interval is out");
    clock.advance(1);
    await until("the iteration after the interval", () => runs >= 3);
  } finally {
    await loop.stop();
  }
});
