/**
 * The in-memory broker's limits: the same token buckets and running counts as
 * claim-11.lua, so one conformance suite holds both. Running counts of a queue are its
 * leases; of a limit group, the set of its leased task ids.
 */
import type { Limits, LimitScope } from "./broker.ts";

/** Tasks a claim passes over in one queue before it gives up (as SCAN_LIMIT in claim-11.lua). */
export const SCAN_LIMIT = 1000;

interface Bucket {
  tokens: number;
  at: number;
}

/** What one claim may still take under one set of limits. */
export interface Allowance {
  /** Most tasks the limits let this claim take from now on. */
  left: number;
  /** Records a take against the limits. */
  take(): void;
  /** Once `left` is 0: 0 when the concurrency limit is reached, else the ms until a token is due. */
  retryIn(): number;
  /** Writes the bucket back (once, at the end of the claim). */
  commit(): void;
}

export class MemoryLimits {
  readonly #limits = new Map<string, Limits>();
  readonly #buckets = new Map<string, Bucket>();
  /** group → ids of its leased tasks */
  readonly #groupRunning = new Map<string, Set<string>>();

  set(scope: LimitScope, limits: Limits | null): void {
    const key = keyOf(scope);
    if (limits === null || (limits.concurrency <= 0 && limits.ratePerSecond <= 0)) this.#limits.delete(key);
    else this.#limits.set(key, { ...limits });
  }

  groupRunning(group: string): number {
    return this.#groupRunning.get(group)?.size ?? 0;
  }

  /** The group's running set gains or loses a task. */
  groupLease(group: string, taskId: string, held: boolean): void {
    let set = this.#groupRunning.get(group);
    if (held) {
      if (!set) this.#groupRunning.set(group, set = new Set());
      set.add(taskId);
    } else if (set) {
      set.delete(taskId);
      if (set.size === 0) this.#groupRunning.delete(group);
    }
  }

  /** The allowance of a scope for one claim at `now`, given how many of its tasks run. */
  allowance(scope: LimitScope, running: number, now: number): Allowance {
    const key = keyOf(scope);
    const limits = this.#limits.get(key);
    if (!limits) return { left: Infinity, take() {}, commit() {}, retryIn: () => 0 };
    const slots = limits.concurrency > 0 ? limits.concurrency - running : Infinity;
    let left = slots;
    let bucket: Bucket | undefined;
    if (limits.ratePerSecond > 0) {
      const burst = limits.burst >= 1 ? limits.burst : Math.max(1, Math.ceil(limits.ratePerSecond));
      const stored = this.#buckets.get(key);
      bucket = stored === undefined ? { tokens: burst, at: now } : { ...stored };
      if (stored !== undefined && now > stored.at) {
        bucket.tokens = Math.min(burst, stored.tokens + (now - stored.at) * limits.ratePerSecond / 1000);
        bucket.at = now;
      }
      left = Math.min(left, Math.floor(bucket.tokens));
    }
    let taken = 0;
    const buckets = this.#buckets;
    return {
      get left() {
        return Math.max(0, left - taken);
      },
      take() {
        taken++;
      },
      retryIn() {
        if (!bucket || slots - taken <= 0) return 0;
        const tokens = bucket.tokens - taken;
        return Math.max(1, Math.ceil((1 - tokens) * 1000 / limits.ratePerSecond));
      },
      commit() {
        if (bucket && taken > 0) buckets.set(key, { tokens: bucket.tokens - taken, at: bucket.at });
      },
    };
  }
}

function keyOf(scope: LimitScope): string {
  return "queue" in scope ? `q:${scope.queue}` : `g:${scope.group}`;
}
