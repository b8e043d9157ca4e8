import assert from "node:assert/strict";
import { LIMIT_MIN_WIDTH, limitText, queueHeader } from "./queue_table.tsx";

Deno.test("the queue table shows each queue's limits in one short column", () => {
  assert.match(queueHeader(LIMIT_MIN_WIDTH), /LIMIT\s+TREND$/);
  // At 80 columns the table must fit: the limits give way.
  assert.doesNotMatch(queueHeader(80), /LIMIT/);
  assert.equal(limitText({ concurrencyLimit: 0, rateLimitPerSecond: 0 }), "—");
  assert.equal(limitText({ concurrencyLimit: 3, rateLimitPerSecond: 0 }), "3");
  assert.equal(limitText({ concurrencyLimit: 0, rateLimitPerSecond: 20 }), "20.0/s");
  assert.equal(limitText({ concurrencyLimit: 12, rateLimitPerSecond: 250 }), "12·250/s");
});
