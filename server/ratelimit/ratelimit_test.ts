import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { Code, ConnectError } from "@connectrpc/connect";
import { ManualClock } from "../clock.ts";
import { createMemoryLogger } from "../log.ts";
import { enforceRateLimits, type RateLimiter } from "./limiter.ts";
import { MemoryRateLimiter } from "./memory_limiter.ts";
import { FallbackRateLimiter, RedisRateLimiter } from "./redis_limiter.ts";
import { formatRateRule, parseRateRule, type RateRule } from "./rule.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";
const PER_MINUTE_10: RateRule = { limit: 10, periodMs: 60_000 };
const PER_HOUR_3: RateRule = { limit: 3, periodMs: 3_600_000 };

function testPrefix(): string {
  return `t${crypto.randomUUID().slice(0, 8)}`;
}

async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** The same boundary cases for every implementation: they must agree to the millisecond. */
async function checkBoundaries(limiter: RateLimiter, clock: ManualClock): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const d = await limiter.take("login_ip_email", "1.2.3.4|ada@example.com", PER_MINUTE_10);
    assert.equal(d.allowed, true, `request ${i + 1} of 10 passes`);
    assert.equal(d.remaining, 9 - i);
  }
  const refused = await limiter.take("login_ip_email", "1.2.3.4|ada@example.com", PER_MINUTE_10);
  assert.deepEqual(refused, { allowed: false, retryAfterMs: 6000, remaining: 0 });

  // Other ids and other buckets are independent.
  assert.equal(
    (await limiter.take("login_ip_email", "1.2.3.4|bob@example.com", PER_MINUTE_10)).allowed,
    true,
  );
  assert.equal((await limiter.take("login_ip", "1.2.3.4|ada@example.com", PER_MINUTE_10)).allowed, true);

  clock.advance(5999);
  const early = await limiter.take("login_ip_email", "1.2.3.4|ada@example.com", PER_MINUTE_10);
  assert.deepEqual(early, { allowed: false, retryAfterMs: 1, remaining: 0 });
  clock.advance(1);
  assert.equal(
    (await limiter.take("login_ip_email", "1.2.3.4|ada@example.com", PER_MINUTE_10)).allowed,
    true,
  );
  assert.equal(
    (await limiter.take("login_ip_email", "1.2.3.4|ada@example.com", PER_MINUTE_10)).allowed,
    false,
  );

  // A full period later the whole burst is back.
  clock.advance(60_000);
  for (let i = 0; i < 10; i++) {
    assert.equal(
      (await limiter.take("login_ip_email", "1.2.3.4|ada@example.com", PER_MINUTE_10)).allowed,
      true,
    );
  }

  // 3 per hour: the fourth waits 20 minutes.
  for (let i = 0; i < 3; i++) {
    assert.equal((await limiter.take("resend", "c@example.com", PER_HOUR_3)).allowed, true);
  }
  assert.equal((await limiter.take("resend", "c@example.com", PER_HOUR_3)).retryAfterMs, 20 * 60_000);

  // A fractional interval (60 s / 7) still allows exactly 7 at once.
  const seven = { limit: 7, periodMs: 60_000 };
  for (let i = 0; i < 7; i++) assert.equal((await limiter.take("odd", "x", seven)).allowed, true, `odd ${i}`);
  assert.equal((await limiter.take("odd", "x", seven)).allowed, false);
}

Deno.test("rate rules parse from the environment's spelling", () => {
  assert.deepEqual(parseRateRule("10/1m"), { limit: 10, periodMs: 60_000 });
  assert.deepEqual(parseRateRule("3/h"), { limit: 3, periodMs: 3_600_000 });
  assert.deepEqual(parseRateRule(" 30 / 60s "), { limit: 30, periodMs: 60_000 });
  assert.equal(parseRateRule("0/1m"), undefined);
  assert.equal(parseRateRule("ten per minute"), undefined);
  assert.equal(formatRateRule({ limit: 5, periodMs: 60_000 }), "5/1m");
});

Deno.test("memory limiter: boundaries with a manual clock", async () => {
  const clock = new ManualClock();
  await checkBoundaries(new MemoryRateLimiter({ clock }), clock);
});

Deno.test("memory limiter stays bounded", async () => {
  const clock = new ManualClock();
  const limiter = new MemoryRateLimiter({ clock, maxBuckets: 100 });
  for (let i = 0; i < 1000; i++) await limiter.take("b", `id${i}`, PER_MINUTE_10);
  assert.ok(limiter.size <= 100);
});

Deno.test("redis limiter: the same boundaries, atomically in Lua", async () => {
  const redis = new Redis(REDIS_URL);
  const prefix = testPrefix();
  try {
    const clock = new ManualClock();
    await checkBoundaries(new RedisRateLimiter({ redis, clock, prefix }), clock);
    const keys = await redis.keys(`${prefix}:*`);
    assert.ok(
      keys.length > 0 && keys.every((k) => /^t\w+:rl:\{[a-z_]+:[0-9a-f]{32}\}$/.test(k)),
      keys.join(),
    );
  } finally {
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
});

Deno.test("redis limiter: concurrent takes never exceed the limit", async () => {
  const redis = new Redis(REDIS_URL);
  const prefix = testPrefix();
  try {
    const clock = new ManualClock();
    // Two limiters, as two server instances would have.
    const a = new RedisRateLimiter({ redis, clock, prefix });
    const b = new RedisRateLimiter({ redis, clock, prefix });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take("register_ip", "10.0.0.1", PER_MINUTE_10)),
    );
    assert.equal(results.filter((r) => r.allowed).length, 10);
  } finally {
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
});

Deno.test("redis down: limits are still enforced in memory, and the fallback is logged once", async () => {
  // A port nothing listens on: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    const clock = new ManualClock();
    const log = createMemoryLogger();
    const limiter = new FallbackRateLimiter({ redis: new RedisRateLimiter({ redis, clock }), clock, log });
    await checkBoundaries(limiter, clock);
    const warnings = log.lines.filter((l) => String(l.msg).startsWith("rate limits fell back to memory"));
    assert.ok(warnings.length >= 1 && warnings.length <= 4, `logged ${warnings.length} times`);

    await assert.rejects(
      enforceRateLimits(limiter, "login attempts", [
        { bucket: "login_ip_email", id: "1.2.3.4|ada@example.com", rule: PER_MINUTE_10 },
      ]),
      (e: unknown) =>
        e instanceof ConnectError && e.code === Code.ResourceExhausted &&
        e.metadata.get("retry-after") === "6" &&
        /try again in 6 s/.test(e.rawMessage),
    );
  } finally {
    redis.disconnect();
  }
});

Deno.test("redis down with a default, reconnecting client: decided in memory without waiting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const redis = new Redis({ host: "127.0.0.1", port });
  redis.on("error", () => {});
  try {
    const clock = new ManualClock();
    const limiter = new FallbackRateLimiter({
      redis: new RedisRateLimiter({ redis, clock }),
      clock,
      log: createMemoryLogger(),
      // Long enough that a test passing quickly proves Redis was never waited on.
      redisTimeoutMs: 60_000,
    });
    const started = performance.now();
    await checkBoundaries(limiter, clock);
    assert.ok(performance.now() - started < 30_000);
  } finally {
    redis.disconnect();
  }
});
