import assert from "node:assert/strict";
import { limitText, QUEUE_HEADER } from "./queue_table.tsx";

Deno.test("the queue table shows each queue's limits in one short column", () => {
  assert.match(QUEUE_HEADER, /LIMIT\s+TREND$/);
  assert.equal(limitText({ concurrencyLimit: 0, rateLimitPerSecond: 0 }), "—");
  assert.equal(limitText({ concurrencyLimit: 3, rateLimitPerSecond: 0 }), "3");
  assert.equal(limitText({ concurrencyLimit: 0, rateLimitPerSecond: 20 }), "20.0/s");
  assert.equal(limitText({ concurrencyLimit: 12, rateLimitPerSecond: 250 }), "12·250/s");
});
