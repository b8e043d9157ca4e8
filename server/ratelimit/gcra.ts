/**
 * The GCRA step of gcra-1.lua in TypeScript, for the in-memory limiter. The two must
 * agree: the tests run the same boundary cases against both.
 */
import type { RateDecision } from "./limiter.ts";
import type { RateRule } from "./rule.ts";

// A hundredth of a millisecond of slack absorbs float error from fractional intervals.
const SLACK_MS = 0.01;

/** Given the stored TAT (or undefined), the decision and the TAT to store when allowed. */
export function gcraStep(
  storedTat: number | undefined,
  now: number,
  rule: RateRule,
): { decision: RateDecision; tat?: number } {
  const interval = rule.periodMs / rule.limit;
  const tat = storedTat === undefined || storedTat < now ? now : storedTat;
  const newTat = tat + interval;
  const allowAt = newTat - rule.periodMs;
  if (allowAt - now > SLACK_MS) {
    return { decision: { allowed: false, retryAfterMs: Math.ceil(allowAt - now), remaining: 0 } };
  }
  const remaining = Math.floor((now - allowAt + SLACK_MS) / interval);
  return { decision: { allowed: true, retryAfterMs: 0, remaining }, tat: Math.round(newTat * 1000) / 1000 };
}
