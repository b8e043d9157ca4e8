import assert from "node:assert/strict";
import { backoffDelay } from "./_backoff.ts";

Deno.test("reconnect backoff doubles its ceiling up to the cap, with full jitter below it", () => {
  const top = () => 0.999999;
  const ceilings = [0, 1, 2, 3, 10, 100].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 1000 }, top));
  assert.deepEqual(ceilings, [99, 199, 399, 799, 999, 999]);
  assert.equal(backoffDelay(5, {}, () => 0), 0, "full jitter reaches down to zero");
  assert.equal(backoffDelay(0, {}, () => 0.5), 125);
  assert.equal(backoffDelay(1000, {}, () => 0.5), 15_000, "the default cap is 30 s");
});
