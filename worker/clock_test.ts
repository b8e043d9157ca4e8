import assert from "node:assert/strict";
import { ManualClock, systemClock } from "./clock.ts";

Deno.test("ManualClock", async (t) => {
  await t.step("wakes sleepers when time reaches them, earliest first", async () => {
    const clock = new ManualClock(1000);
    const woke: string[] = [];
    const a = clock.sleep(300).then(() => woke.push("a"));
    const b = clock.sleep(100).then(() => woke.push("b"));
    const c = clock.sleep(100).then(() => woke.push("c"));
    assert.equal(clock.pendingSleeps, 3);
    clock.advance(99);
    await Promise.resolve();
    assert.deepEqual(woke, []);
    clock.advance(201);
    await Promise.all([a, b, c]);
    assert.deepEqual(woke, ["b", "c", "a"]);
    assert.equal(clock.now(), 1300);
    assert.equal(clock.pendingSleeps, 0);
  });

  await t.step("an aborted sleep rejects with the signal's reason and is forgotten", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error("enough"));
    await assert.rejects(sleeping, /enough/);
    assert.equal(clock.pendingSleeps, 0);
    await assert.rejects(clock.sleep(1, controller.signal), /enough/);
  });

  await t.step("time does not go back", () => {
    assert.throws(() => new ManualClock().advance(-1), RangeError);
  });
});

Deno.test("systemClock.sleep stops on abort", async () => {
  const controller = new AbortController();
  const sleeping = systemClock.sleep(60_000, controller.signal);
  controller.abort();
  await assert.rejects(sleeping, (e: unknown) => e instanceof DOMException && e.name === "AbortError");
  await systemClock.sleep(0);
});
