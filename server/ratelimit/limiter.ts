/**
 * What a rate limiter answers, and how a service turns a refusal into the
 * ResourceExhausted error callers see.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { RateRule } from "./rule.ts";

export interface RateDecision {
  allowed: boolean;
  /** How long until one more request would pass; 0 when allowed. */
  retryAfterMs: number;
  /** Requests that would still pass right now. */
  remaining: number;
}

export interface RateLimiter {
  /**
   * Takes one request from the bucket named by `bucket` (what is limited, e.g.
   * "login_ip") and `id` (whom, e.g. the client address).
   */
  take(bucket: string, id: string, rule: RateRule): Promise<RateDecision>;
}

/** A limiter that lets everything through, for callers that limit elsewhere. */
export const unlimited: RateLimiter = {
  take: () => Promise.resolve({ allowed: true, retryAfterMs: 0, remaining: Number.MAX_SAFE_INTEGER }),
};

/** Whole seconds to wait, rounded up so a client that waits that long is let through. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The error for a refused request. The wait goes in the message for people and in a
 * `retry-after` header/trailer (seconds, as in HTTP) for programs.
 */
export function rateLimitedError(what: string, retryAfterMs: number): ConnectError {
  const seconds = retryAfterSeconds(retryAfterMs);
  return new ConnectError(
    `too many ${what}: try again in ${seconds} s`,
    Code.ResourceExhausted,
    { "retry-after": String(seconds) },
  );
}

/** Takes one request from each bucket in order and throws at the first that refuses. */
export async function enforceRateLimits(
  limiter: RateLimiter,
  what: string,
  checks: readonly { bucket: string; id: string; rule: RateRule }[],
): Promise<void> {
  for (const check of checks) {
    const decision = await limiter.take(check.bucket, check.id, check.rule);
    if (!decision.allowed) throw rateLimitedError(what, decision.retryAfterMs);
  }
}
