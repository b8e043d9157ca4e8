/**
 * A rate-limit rule and how it is written in the environment ("10/1m").
 *
 * A rule of N per period is a token bucket (computed as GCRA): a burst of N, then one
 * more every period/N. It never lets more than N through at once, and a steady caller
 * gets N per period, which is what "10 per minute" means to a person.
 */
import type { EnvReader } from "../config.ts";

export interface RateRule {
  /** Requests allowed in a burst, and per period once the burst is spent. */
  limit: number;
  /** The period in milliseconds. */
  periodMs: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RULE = /^(\d{1,6})\s*\/\s*(\d{0,6})\s*([smhd])$/;

/** Parses "10/1m", "3/h", "30/60s"; undefined when malformed. */
export function parseRateRule(text: string): RateRule | undefined {
  const match = RULE.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const limit = Number(match[1]);
  const periodMs = Number(match[2] || "1") * UNITS[match[3]];
  if (limit < 1 || periodMs < 1000) return undefined;
  return { limit, periodMs };
}

/** Writes a rule back the way the environment spells it, for logs and the banner. */
export function formatRateRule(rule: RateRule): string {
  for (const [unit, ms] of Object.entries(UNITS).reverse()) {
    if (rule.periodMs % ms === 0) return `${rule.limit}/${rule.periodMs / ms}${unit}`;
  }
  return `${rule.limit}/${rule.periodMs / 1000}s`;
}

/** Reads one rule from the environment, recording a problem when it does not parse. */
export function readRateRule(r: EnvReader, name: string, fallback: RateRule): RateRule {
  const raw = r.optionalString(name);
  if (raw === undefined) return fallback;
  const rule = parseRateRule(raw);
  if (!rule) {
    r.problem(`${name} must be a count per period like "10/1m", "3/1h" or "30/60s", got "${raw}"`);
    return fallback;
  }
  return rule;
}
