/**
 * Rate limits shared by every server instance, kept in Redis by gcra-1.lua; and the
 * limiter services use, which falls back to memory whenever Redis cannot answer so
 * that limits hold (per instance) through a Redis outage instead of failing open.
 */
import type { Cluster, Redis } from "ioredis";
import type { Clock } from "../clock.ts";
import { type Logger, rateLimitedLogger } from "../log.ts";
import { rateBucketKey } from "./keys.ts";
import type { RateDecision, RateLimiter } from "./limiter.ts";
import { MemoryRateLimiter } from "./memory_limiter.ts";
import type { RateRule } from "./rule.ts";

const GCRA_LUA = Deno.readTextFileSync(new URL("./gcra-1.lua", import.meta.url));
const COMMAND = "taskmeshRateGcra";

type RedisClient = Redis | Cluster;
type GcraCommand = (
  key: string,
  now: number,
  interval: number,
  period: number,
) => Promise<[number, number, number]>;

export interface RedisRateLimiterOptions {
  redis: RedisClient;
  clock: Clock;
  /** Key prefix; tests give each test its own. */
  prefix?: string;
}

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient;
  readonly #clock: Clock;
  readonly #prefix: string;

  constructor(options: RedisRateLimiterOptions) {
    this.#redis = options.redis;
    this.#clock = options.clock;
    this.#prefix = options.prefix ?? "tm";
    // defineCommand sends EVALSHA and reloads the script on NOSCRIPT (after a Redis restart) by itself.
    if (!(COMMAND in this.#redis)) this.#redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
  }

  /** Whether Redis may answer now; a client that is reconnecting would only queue the command. */
  get available(): boolean {
    return this.#redis.status === "ready" || this.#redis.status === "wait";
  }

  async take(bucket: string, id: string, rule: RateRule): Promise<RateDecision> {
    const key = await rateBucketKey(this.#prefix, bucket, id);
    const command = (this.#redis as unknown as Record<string, GcraCommand>)[COMMAND];
    const [allowed, retryAfterMs, remaining] = await command.call(
      this.#redis,
      key,
      this.#clock.now(),
      rule.periodMs / rule.limit,
      rule.periodMs,
    );
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }
}

/** How long the fallback limiter stays in memory after Redis failed a call. */
export const RETRY_REDIS_AFTER_MS = 2_000;

export interface FallbackRateLimiterOptions {
  /** Absent in embedded mode: then only memory is used. */
  redis?: RedisRateLimiter;
  clock: Clock;
  log: Logger;
  /** How long to wait for Redis before deciding in memory. */
  redisTimeoutMs?: number;
}

/**
 * Redis when it answers in time, memory otherwise; the switch is logged at most once a
 * minute. After Redis fails a call, the next ones go straight to memory for
 * `RETRY_REDIS_AFTER_MS`, so a silent Redis costs one timeout, not one per sign-in.
 */
export class FallbackRateLimiter implements RateLimiter {
  readonly memory: MemoryRateLimiter;
  readonly #redis?: RedisRateLimiter;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  #skipRedisUntil = -Infinity;

  constructor(options: FallbackRateLimiterOptions) {
    this.#redis = options.redis;
    this.memory = new MemoryRateLimiter({ clock: options.clock });
    this.#log = rateLimitedLogger(options.log, 60_000, () => options.clock.now());
    this.#timeoutMs = options.redisTimeoutMs ?? 250;
    this.#clock = options.clock;
  }

  async take(bucket: string, id: string, rule: RateRule): Promise<RateDecision> {
    if (this.#redis?.available && this.#clock.now() >= this.#skipRedisUntil) {
      try {
        return await withTimeout(this.#redis.take(bucket, id, rule), this.#timeoutMs);
      } catch (error) {
        this.#skipRedisUntil = this.#clock.now() + RETRY_REDIS_AFTER_MS;
        this.#log.warn("rate limits fell back to memory: Redis did not answer", { error });
      }
    } else if (this.#redis) {
      this.#log.warn("rate limits fell back to memory: Redis is not connected");
    }
    return this.memory.take(bucket, id, rule);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
