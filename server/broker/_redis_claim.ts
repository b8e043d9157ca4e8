/**
 * Claiming across queues. Each queue lives in its own hash slot, so a claim over
 * several queues cannot be one script on a Redis Cluster. With one queue it is one
 * script call (one round trip for any number of tasks). With several, the claimer
 * first reads each queue's paused flag and best `max` ready tasks (concurrently: one
 * round trip), picks the `max` best across them, then runs one claim script per chosen
 * queue for its share (concurrently: one more round trip).
 *
 * The scripts are what hand out tasks — each atomically pops whatever is best in its
 * queue at that moment and leases it — so racing another claimer can only cost the
 * order across queues or a short answer (then another round runs, up to
 * CLAIM_ROUNDS), never a task leased twice or a task out of ready without a lease.
 * A script also passes over tasks the worker may not take (their type, a full limit
 * group) and stops at its queue's limits; a queue that answers short is left out of
 * the later rounds, so its blocked head cannot starve the others.
 */
import type { QueueKeys } from "../redis/keys.ts";
import type { ClaimRequest, Lease } from "./broker.ts";
import { newLeaseId } from "./_lease_id.ts";
import { compareScored } from "./_order.ts";
import type { BrokerScripts, RedisClient } from "./_redis_scripts.ts";

/** What claiming needs from the broker. */
export interface QueueAccess {
  redis: RedisClient;
  scripts: BrokerScripts;
  keys(queue: string): QueueKeys;
  /** groupKeysBase of the broker's prefix. */
  groupBase: string;
}

/** Claim rounds across queues when a race left an answer short. */
const CLAIM_ROUNDS = 3;
/** Most tasks one claim returns, whatever `max` asks ("up to max" allows fewer). */
export const MAX_PER_CLAIM = 1_000;

interface Claimed extends Lease {
  score: number;
}

export async function claimLeases(access: QueueAccess, request: ClaimRequest): Promise<Lease[]> {
  const queues = [...new Set(request.queues)];
  // Lease ids are made up front, one per task wanted: a cap keeps an absurd max cheap.
  const max = Math.min(Math.floor(request.max), MAX_PER_CLAIM);
  if (queues.length === 0 || !(max > 0)) return [];
  const expiresAt = request.now + request.leaseTtlMs;
  const claim: ClaimArgs = {
    workerId: request.workerId,
    expiresAt,
    now: request.now,
    types: [...new Set(request.types ?? [])],
    onLimited: request.onLimited,
  };
  if (queues.length === 1) {
    return strip(await claimFrom(access, queues[0], max, claim));
  }
  const taken: Claimed[] = [];
  // Queues that gave fewer than asked: their head holds tasks this worker may not take
  // (type, limits) or a racing claimer took them. Later rounds ask the others, so tasks
  // passed over in one queue never starve another.
  const spent = new Set<string>();
  for (let round = 0; round < CLAIM_ROUNDS + 1 && taken.length < max; round++) {
    const want = max - taken.length;
    const open = queues.filter((q) => !spent.has(q));
    if (open.length === 0) break;
    const heads = await Promise.all(open.map((q) => peekReady(access, q, want)));
    const best = heads.flat().sort(compareScored).slice(0, want);
    if (best.length === 0) break;
    const quota = new Map<string, number>();
    for (const head of best) quota.set(head.queue, (quota.get(head.queue) ?? 0) + 1);
    const results = await Promise.all(
      [...quota].map(([queue, n]) => claimFrom(access, queue, n, claim)),
    );
    let short = false;
    for (const [i, [queue, n]] of [...quota].entries()) {
      taken.push(...results[i]);
      if (results[i].length < n) {
        short = true;
        spent.add(queue);
      }
    }
    // Short when tasks were passed over or another claimer won a race; other queues may still hold more.
    if (!short) break;
  }
  return strip(taken.sort((a, b) => compareScored({ ...a, id: a.taskId }, { ...b, id: b.taskId })));
}

/** The best `n` ready tasks of a queue, or none when it is paused. */
async function peekReady(
  access: QueueAccess,
  queue: string,
  n: number,
): Promise<Array<{ queue: string; id: string; score: number }>> {
  const keys = access.keys(queue);
  const [paused, flat] = await Promise.all([
    access.redis.exists(keys.paused),
    access.redis.zrange(keys.ready, 0, n - 1, "WITHSCORES"),
  ]);
  if (paused) return [];
  const heads = [];
  for (let i = 0; i < flat.length; i += 2) heads.push({ queue, id: flat[i], score: Number(flat[i + 1]) });
  return heads;
}

interface ClaimArgs {
  workerId: string;
  expiresAt: number;
  now: number;
  types: string[];
  onLimited?: (retryInMs: number) => void;
}

async function claimFrom(
  access: QueueAccess,
  queue: string,
  n: number,
  claim: ClaimArgs,
): Promise<Claimed[]> {
  const { workerId, expiresAt, now, types } = claim;
  const keys = access.keys(queue);
  const leaseIds = Array.from({ length: n }, () => newLeaseId(queue, now));
  const flat = await access.scripts.run(
    "claim",
    [
      keys.ready,
      keys.paused,
      keys.leases,
      keys.leaseWorkers,
      keys.leaseExpiry,
      keys.workerLeases,
      keys.limits,
      keys.bucket,
      keys.taskTypes,
      keys.taskGroups,
      access.groupBase,
    ],
    [workerId, expiresAt, now, types.length, ...types, ...leaseIds],
  ) as string[];
  const claimed: Claimed[] = [];
  // A trailing element says a limit kept the claim short (claim-11.lua).
  if (flat.length % 3 === 1) claim.onLimited?.(Number(flat[flat.length - 1]));
  for (let i = 0; i + 2 < flat.length; i += 3) {
    claimed.push({
      taskId: flat[i],
      queue,
      leaseId: flat[i + 1],
      workerId,
      expiresAt,
      score: Number(flat[i + 2]),
    });
  }
  return claimed;
}

function strip(claimed: readonly Claimed[]): Lease[] {
  return claimed.map(({ taskId, queue, leaseId, workerId, expiresAt }) => ({
    taskId,
    queue,
    leaseId,
    workerId,
    expiresAt,
  }));
}
