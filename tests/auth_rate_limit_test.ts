/**
 * Rate limits on the public auth methods, at their default boundaries, with a manual
 * clock: in memory, in the real Redis, and with Redis down (memory takes over).
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { ManualClock } from "../server/clock.ts";
import { createMemoryLogger } from "../server/log.ts";
import type { RateLimiter } from "../server/ratelimit/limiter.ts";
import { FallbackRateLimiter, RedisRateLimiter } from "../server/ratelimit/redis_limiter.ts";
import { as, type AuthTestbed, createAuthTestbed, rpcError } from "../server/auth/testing.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

async function loginCode(tb: AuthTestbed, email: string, peer: string): Promise<Code> {
  return (await rpcError(tb.client.login({ email, password: "certainly not right" }, as(undefined, peer))))
    .code;
}

/** The limits every limiter must enforce through the service, at the defaults. */
async function checkServiceLimits(tb: AuthTestbed) {
  const user = await tb.createUser("member");

  // 10 a minute per address and email.
  for (let i = 0; i < 10; i++) {
    assert.equal(await loginCode(tb, user.email, "10.0.0.1"), Code.Unauthenticated);
  }
  const limited = await rpcError(
    tb.client.login({ email: user.email, password: "x" }, as(undefined, "10.0.0.1")),
  );
  assert.equal(limited.code, Code.ResourceExhausted);
  assert.match(limited.rawMessage, /^too many login attempts: try again in 6 s$/);
  assert.equal(limited.metadata.get("retry-after"), "6");
  // Even the right password waits: the limit comes before the check.
  assert.equal(
    (await rpcError(
      tb.client.login({ email: user.email, password: user.password }, as(undefined, "10.0.0.1")),
    )).code,
    Code.ResourceExhausted,
  );
  // Another address, or the same email in another case from the same address? The case does not matter.
  assert.equal(await loginCode(tb, user.email.toUpperCase(), "10.0.0.1"), Code.ResourceExhausted);
  assert.equal(await loginCode(tb, user.email, "10.0.0.2"), Code.Unauthenticated);
  tb.clock.advance(6000);
  assert.equal(await loginCode(tb, user.email, "10.0.0.1"), Code.Unauthenticated);
  assert.equal(await loginCode(tb, user.email, "10.0.0.1"), Code.ResourceExhausted);

  // 30 a minute per address, whatever the email: 10.0.0.3 tries many emails.
  for (let i = 0; i < 30; i++) {
    assert.equal(
      await loginCode(tb, `someone${i}@example.com`, "10.0.0.3"),
      Code.Unauthenticated,
      `attempt ${i + 1}`,
    );
  }
  assert.equal(await loginCode(tb, "someone-else@example.com", "10.0.0.3"), Code.ResourceExhausted);

  // 5 registrations a minute per address.
  for (let i = 0; i < 5; i++) {
    await tb.client.register(
      { email: `new${i}@example.com`, password: "a perfectly fine passphrase", displayName: "New" },
      as(undefined, "10.0.0.4"),
    );
  }
  const register = await rpcError(
    tb.client.register({
      email: "new5@example.com",
      password: "a perfectly fine passphrase",
      displayName: "New",
    }, as(undefined, "10.0.0.4")),
  );
  assert.equal(register.code, Code.ResourceExhausted);
  assert.equal(register.metadata.get("retry-after"), "12");

  // 3 an hour per email, for resend and for reset, whatever the address.
  for (let i = 0; i < 3; i++) {
    await tb.client.resendVerification({ email: "new0@example.com" }, as(undefined, `10.1.0.${i}`));
  }
  const resend = await rpcError(
    tb.client.resendVerification({ email: "NEW0@example.com" }, as(undefined, "10.1.0.9")),
  );
  assert.equal(resend.code, Code.ResourceExhausted);
  assert.equal(resend.metadata.get("retry-after"), String(20 * 60));
  for (let i = 0; i < 3; i++) await tb.client.requestPasswordReset({ email: user.email });
  assert.equal(
    (await rpcError(tb.client.requestPasswordReset({ email: user.email }))).code,
    Code.ResourceExhausted,
  );
  tb.clock.advance(20 * 60_000);
  await tb.client.requestPasswordReset({ email: user.email });
}

Deno.test("rate limits at the default boundaries, in memory", async () => {
  const tb = await createAuthTestbed();
  try {
    await checkServiceLimits(tb);
  } finally {
    await tb.close();
  }
});

Deno.test("rate limits at the default boundaries, in Redis", async () => {
  const redis = new Redis(REDIS_URL);
  const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
  const clock = new ManualClock();
  const limiter: RateLimiter = new FallbackRateLimiter({
    redis: new RedisRateLimiter({ redis, clock, prefix }),
    clock,
    log: createMemoryLogger(),
  });
  const tb = await createAuthTestbed({ clock, limiter });
  try {
    await checkServiceLimits(tb);
    const keys = await redis.keys(`${prefix}:rl:*`);
    assert.ok(keys.some((k) => k.startsWith(`${prefix}:rl:{login_ip_email:`)));
    // Only digests: no address or email is readable in Redis.
    assert.ok(keys.every((k) => !k.includes("@") && !k.includes("10.0.0")));
  } finally {
    await tb.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

Deno.test("Redis down: the same limits hold in memory, and the fallback is logged", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const redis = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  const clock = new ManualClock();
  const log = createMemoryLogger();
  const limiter = new FallbackRateLimiter({ redis: new RedisRateLimiter({ redis, clock }), clock, log });
  const tb = await createAuthTestbed({ clock, limiter });
  try {
    await checkServiceLimits(tb);
    assert.ok(
      log.lines.some((l) =>
        l.level === "warn" && String(l.msg).startsWith("rate limits fell back to memory")
      ),
    );
  } finally {
    await tb.close();
    redis.disconnect();
  }
});
