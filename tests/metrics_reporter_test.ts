/**
 * The reporter lease on a real Redis: one instance at a time reports the queue-wide
 * gauges; the holder keeps it while it is scraped, and another takes it once the holder
 * stops being scraped for a TTL.
 */
import assert from "node:assert/strict";
import { createMemoryLogger } from "../server/log.ts";
import { redisReporterLease } from "../server/observability/reporter_lease.ts";
import { connectRedis } from "../server/redis/connection.ts";
import { TEST_REDIS_URL } from "./_support/server.ts";
import { eventually } from "./_support/until.ts";

Deno.test("one reporter at a time, and a takeover once the holder goes quiet", async () => {
  const keyPrefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const redis = connectRedis(TEST_REDIS_URL, { log: createMemoryLogger(), keyPrefix });
  try {
    const ttlMs = 300;
    const a = redisReporterLease(redis, "instance-a", ttlMs);
    const b = redisReporterLease(redis, "instance-b", ttlMs);
    assert.equal(await a.holds(), true, "the first instance scraped takes it");
    assert.equal(await b.holds(), false);
    assert.equal(await a.holds(), true, "and keeps it while scraped");
    assert.equal(await b.holds(), false);
    // A is no longer scraped: once its lease lapses, B's next scrape takes it.
    await eventually("B takes the lease", async () => (await b.holds()) || undefined, { timeoutMs: 5_000 });
    assert.equal(await a.holds(), false, "A, scraped again, leaves the gauges to B");
    assert.equal(await redis.pttl("tm:{meta}:metrics_reporter") <= ttlMs, true);
  } finally {
    await redis.del("tm:{meta}:metrics_reporter");
    redis.disconnect();
  }
});
