/** Rate limits: token buckets in Redis with an in-memory fallback. */
export {
  enforceRateLimits,
  type RateDecision,
  rateLimitedError,
  type RateLimiter,
  unlimited,
} from "./limiter.ts";
export { MemoryRateLimiter } from "./memory_limiter.ts";
export { FallbackRateLimiter, RedisRateLimiter } from "./redis_limiter.ts";
export { formatRateRule, parseRateRule, type RateRule, readRateRule } from "./rule.ts";
