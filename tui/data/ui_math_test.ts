import assert from "node:assert/strict";
import { backoffDelay } from "./backoff.ts";
import { fit, prettyPayload, shortDuration } from "./format.ts";
import { bar, sparkline } from "./sparkline.ts";
import { clampIndex, windowAround } from "./window.ts";

Deno.test("the list window follows the selection, moving as little as it can", () => {
  assert.deepEqual(windowAround(5, 2, 10), { start: 0, end: 5 });
  assert.deepEqual(windowAround(100, 0, 10), { start: 0, end: 10 });
  assert.deepEqual(windowAround(100, 9, 10, 0), { start: 0, end: 10 });
  assert.deepEqual(windowAround(100, 10, 10, 0), { start: 1, end: 11 });
  assert.deepEqual(windowAround(100, 50, 10, 45), { start: 45, end: 55 });
  assert.deepEqual(windowAround(100, 40, 10, 45), { start: 40, end: 50 });
  assert.deepEqual(windowAround(100, 99, 10, 0), { start: 90, end: 100 });
  // The list shrank under the window.
  assert.deepEqual(windowAround(20, 19, 10, 60), { start: 10, end: 20 });
  assert.equal(clampIndex(7, 3), 2);
  assert.equal(clampIndex(-1, 3), 0);
  assert.equal(clampIndex(4, 0), 0);
});

Deno.test("sparklines and bars", () => {
  assert.equal(sparkline([0, 1, 2, 4], 4), "▁▃▅█");
  assert.equal(sparkline([0, 0], 4), "▁▁  ");
  assert.equal(sparkline([1, 2, 3, 4, 5, 6], 3), "▆▇█");
  // One axis for several rows: a steady 2/s next to 20/s is a low bar, not a full one.
  assert.equal(sparkline([2, 2, 2], 3, 20), "▂▂▂");
  assert.equal(sparkline([20, 10, 0], 3, 20), "█▅▁");
  assert.equal(bar(0.4, 10), "████░░░░░░");
  assert.equal(bar(2, 4), "████");
  assert.equal(bar(Number.NaN, 4), "░░░░");
});

Deno.test("figures read short", () => {
  assert.equal(shortDuration(4_000), "4s");
  assert.equal(shortDuration(252_000), "4m12s");
  assert.equal(shortDuration(2 * 3_600_000 + 5 * 60_000), "2h05m");
  assert.equal(shortDuration(-1), "—");
  assert.equal(fit("abcdef", 4), "abc…");
  assert.equal(fit("ab", 4), "ab  ");
  assert.equal(prettyPayload(new TextEncoder().encode('{"a":[1]}')), '{\n  "a": [\n    1\n  ]\n}');
  assert.equal(prettyPayload(new TextEncoder().encode("plain")), "plain");
  assert.match(prettyPayload(new Uint8Array([0xff, 0x00])), /2 bytes, not UTF-8\) ff 00/);
  assert.equal(prettyPayload(new Uint8Array()), "(empty)");
});

Deno.test("backoff grows, is capped, and never spins", () => {
  const low = () => 0;
  const high = () => 0.999999;
  assert.equal(backoffDelay(0, {}, low), 25);
  assert.equal(backoffDelay(0, {}, high), 249);
  assert.equal(backoffDelay(3, {}, high), 1999);
  assert.equal(backoffDelay(30, {}, high), 14_999);
  assert.equal(backoffDelay(30, {}, low), 1500);
});
