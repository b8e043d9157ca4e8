/**
 * Who evaluates the alert rules: one instance at a time. With Redis, the instance that
 * holds a lease key (taken when free or expired, renewed by each pass of its holder); a
 * holder that dies loses it after the TTL and another instance takes over. Embedded,
 * there is one instance: it always holds it.
 */
import type { Redis } from "ioredis";

export interface EvaluationLease {
  /** Takes or renews the lease; whether this instance holds it now. */
  hold(): Promise<boolean>;
  /** Gives it up, so another instance takes over at once rather than after the TTL. */
  release(): Promise<void>;
}

export const IN_PROCESS_LEASE: EvaluationLease = {
  hold: () => Promise.resolve(true),
  release: () => Promise.resolve(),
};

const SCRIPT = Deno.readTextFileSync(new URL("./lua/hold-lease-1.lua", import.meta.url));
const COMMAND = "taskmeshAlerts_holdLease";

type WithCommand = Redis & { [COMMAND]: (key: string, owner: string, ttlMs: number) => Promise<number> };

export function redisLease(redis: Redis, key: string, owner: string, ttlMs: number): EvaluationLease {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
  const client = redis as WithCommand;
  return {
    hold: async () => (await client[COMMAND](key, owner, ttlMs)) === 1,
    release: async () => {
      await client[COMMAND](key, owner, 0);
    },
  };
}
