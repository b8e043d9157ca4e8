/**
 * Which instance reports the queue-wide gauges (queue depths, oldest queued age): the
 * one holding a lease in Redis. Every scrape of an instance asks; the holder renews its
 * lease, the others see it held and leave those gauges out, so a sum over instances
 * counts each queue once. When the holder stops being scraped (gone, or out of the
 * load balancer) its lease lapses after REPORTER_TTL_MS and the next instance scraped
 * takes it. In embedded mode there is one instance, and it always reports.
 */
import type { Redis } from "ioredis";
import { DEFAULT_PREFIX, metricsReporterKey } from "../redis/keys.ts";

/** Longer than a few scrape intervals (Prometheus's default is 15 s), so one missed scrape keeps it. */
export const REPORTER_TTL_MS = 45_000;

const SCRIPT = Deno.readTextFileSync(new URL("./lua/metrics-reporter-1.lua", import.meta.url));

export interface ReporterLease {
  /** Takes or renews the lease; true when this instance reports the queue-wide gauges now. */
  holds(): Promise<boolean>;
}

export const soleReporter: ReporterLease = { holds: () => Promise.resolve(true) };

export function redisReporterLease(
  redis: Redis,
  instanceId: string,
  ttlMs = REPORTER_TTL_MS,
): ReporterLease {
  const key = metricsReporterKey(DEFAULT_PREFIX);
  return {
    async holds() {
      return await redis.eval(SCRIPT, 1, key, instanceId, ttlMs) === 1;
    },
  };
}
