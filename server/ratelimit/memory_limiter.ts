/**
 * Rate limits kept in this process: embedded mode's limiter, and the fallback when
 * Redis cannot answer. Bounded: idle buckets are swept, and past `maxBuckets` the
 * oldest are dropped (which can only ever let a request through, never block one).
 */
import type { Clock } from "../clock.ts";
import { gcraStep } from "./gcra.ts";
import type { RateDecision, RateLimiter } from "./limiter.ts";
import type { RateRule } from "./rule.ts";

export interface MemoryRateLimiterOptions {
  clock: Clock;
  maxBuckets?: number;
}

export class MemoryRateLimiter implements RateLimiter {
  readonly #clock: Clock;
  readonly #maxBuckets: number;
  // Insertion order doubles as age order: a bucket is re-inserted on every write.
  readonly #tats = new Map<string, number>();

  constructor(options: MemoryRateLimiterOptions) {
    this.#clock = options.clock;
    this.#maxBuckets = options.maxBuckets ?? 100_000;
  }

  get size(): number {
    return this.#tats.size;
  }

  take(bucket: string, id: string, rule: RateRule): Promise<RateDecision> {
    const key = `${bucket}\u0000${id}`;
    const now = this.#clock.now();
    const { decision, tat } = gcraStep(this.#tats.get(key), now, rule);
    if (tat !== undefined) {
      this.#tats.delete(key);
      this.#tats.set(key, tat);
      if (this.#tats.size > this.#maxBuckets) this.#evict(now);
    }
    return Promise.resolve(decision);
  }

  #evict(now: number): void {
    // A TAT in the past is a full bucket: forgetting it changes nothing.
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    for (const key of this.#tats.keys()) {
      if (this.#tats.size <= this.#maxBuckets) break;
      this.#tats.delete(key);
    }
  }
}
