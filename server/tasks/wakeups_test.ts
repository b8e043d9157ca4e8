/**
 * A dispatcher arms its wake before it claims: a wake that comes while its claim is out
 * (the claim may have been sent before the new task was added) ends its wait at once,
 * instead of the idle wait passing first. On a manual clock that never moves, so only a
 * wake ends a wait.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { Wakeups } from "./_wakeups.ts";
import { settle } from "./pg_store_testing.ts";

async function outcome(wait: Promise<void>): Promise<"woken" | "waiting"> {
  return await Promise.race([wait.then(() => "woken" as const), settle().then(() => "waiting" as const)]);
}

Deno.test("Wakeups", async (t) => {
  const clock = new ManualClock(0);
  const wakeups = new Wakeups(clock);
  const signal = new AbortController().signal;

  await t.step("a wake between arming and waiting ends the wait at once", async () => {
    const armed = wakeups.arm(["a"]);
    wakeups.wake("a"); // while the claim is out
    assert.equal(await outcome(armed.wait(60_000, signal)), "woken");
    assert.equal(wakeups.armed, 0);
  });

  await t.step("a wake of any queue (undefined) counts, another queue's does not", async () => {
    const any = wakeups.arm(["a", "b"]);
    wakeups.wake(undefined);
    assert.equal(await outcome(any.wait(60_000, signal)), "woken");

    const other = wakeups.arm(["a"]);
    wakeups.wake("b");
    const wait = other.wait(1000, signal);
    assert.equal(await outcome(wait), "waiting");
    clock.advance(1000);
    await wait;
    assert.equal(wakeups.armed, 0);
  });

  await t.step("a wake while waiting ends it; a disarmed wake listens no more", async () => {
    const armed = wakeups.arm(["c"]);
    const wait = armed.wait(60_000, signal);
    assert.equal(await outcome(wait), "waiting");
    wakeups.wake("c");
    assert.equal(await outcome(wait), "woken");

    const found = wakeups.arm(["c"]);
    assert.equal(wakeups.armed, 1);
    found.disarm();
    assert.equal(wakeups.armed, 0);
  });

  await t.step("an aborted signal ends a wait", async () => {
    const stop = new AbortController();
    const wait = wakeups.arm(["d"]).wait(60_000, stop.signal);
    assert.equal(await outcome(wait), "waiting");
    stop.abort();
    assert.equal(await outcome(wait), "woken");
    assert.equal(wakeups.armed, 0);
    assert.equal(clock.pendingSleeps, 0);
  });
});
