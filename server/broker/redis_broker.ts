/**
 * The broker in Redis, shared by every server instance. Each queue's ready, delayed
 * and lease keys share the queue's hash tag and every change is one Lua script on one
 * queue (server/broker/lua/), so it runs unchanged on a Redis Cluster; claiming across
 * queues is explained in _redis_claim.ts.
 *
 * Calls across queues are concurrent commands rather than one pipeline because an
 * ioredis Cluster pipeline must stay within one slot; on one connection they still
 * travel together, in one round trip.
 */
import type { Logger } from "../log.ts";
import {
  DEFAULT_PREFIX,
  groupKeys,
  groupKeysBase,
  isKeyableQueue,
  type QueueKeys,
  queueKeys,
  queueRegistryKey,
  rebuildingKey,
  rebuiltKey,
  wakeChannel,
  workerLeasesKey,
} from "../redis/keys.ts";
import type { Broker, BrokerTask, ClaimRequest, Lease, Limits, LimitScope, QueueCounts } from "./broker.ts";
import { queueOfLeaseId } from "./_lease_id.ts";
import { compareScored, taskScore } from "./_order.ts";
import { claimLeases } from "./_redis_claim.ts";
import { type BrokerScripts, brokerScripts, type RedisClient } from "./_redis_scripts.ts";
import { RedisWake } from "./_redis_wake.ts";

export interface RedisBrokerOptions {
  redis: RedisClient;
  /** Start of every key; tests give each test its own. `tm` by default. */
  prefix?: string;
  log: Logger;
  /** A connection for SUBSCRIBE only; without one the broker duplicates `redis` and closes it on close(). */
  subscriber?: RedisClient;
}

/** Tasks (or leases) per script call: keeps each call's argument list and run time small. */
const CHUNK = 500;

export function createRedisBroker(options: RedisBrokerOptions): Broker {
  return new RedisBroker(options);
}

class RedisBroker implements Broker {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #scripts: BrokerScripts;
  readonly #wake: RedisWake;
  /** Token of the rebuild this instance started ("" for none); see mark-rebuilt-2.lua. */
  #rebuildToken = "";

  constructor(options: RedisBrokerOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#log = options.log.child({ component: "broker" });
    this.#scripts = brokerScripts(options.redis);
    this.#wake = new RedisWake({
      source: options.redis,
      given: options.subscriber,
      channel: wakeChannel(this.#prefix),
      log: this.#log,
    });
  }

  get #groupBase(): string {
    return groupKeysBase(this.#prefix);
  }

  #keys(queue: string): QueueKeys {
    return queueKeys(this.#prefix, queue);
  }

  /** Every queue ever seen: sweeps (promote, takeExpired, leasesOf) visit each. */
  async #knownQueues(): Promise<string[]> {
    return (await this.#redis.smembers(queueRegistryKey(this.#prefix))).sort();
  }

  async add(tasks: readonly BrokerTask[], now: number): Promise<void> {
    if (tasks.length === 0) return;
    // Build every argument first, so a bad task changes nothing.
    const byQueue = groupBy(tasks, (t) => t.queue);
    const calls: Array<{ keys: QueueKeys; args: (string | number)[] }> = [];
    for (const [queue, list] of byQueue) {
      const keys = this.#keys(queue);
      for (const chunk of chunks(list, CHUNK)) {
        const args: (string | number)[] = [now];
        for (const t of chunk) args.push(t.id, taskScore(t), t.runAt, t.type ?? "", t.group ?? "");
        calls.push({ keys, args });
      }
    }
    await Promise.all([
      this.#redis.sadd(queueRegistryKey(this.#prefix), ...byQueue.keys()),
      ...calls.map(({ keys, args }) =>
        this.#scripts.run("add", [
          keys.ready,
          keys.delayed,
          keys.delayedOrder,
          keys.taskTypes,
          keys.taskGroups,
          keys.leases,
        ], args)
      ),
    ]);
  }

  async promote(now: number, limit: number): Promise<number> {
    const queues = await this.#knownQueues();
    if (queues.length === 0 || limit <= 0) return 0;
    const due = await Promise.all(queues.map((q) => this.#redis.zcount(this.#keys(q).delayed, "-inf", now)));
    let budget = limit;
    const moves: Promise<unknown>[] = [];
    queues.forEach((queue, i) => {
      const n = Math.min(due[i], budget);
      if (n <= 0) return;
      budget -= n;
      const keys = this.#keys(queue);
      moves.push(this.#scripts.run("promote", [keys.delayed, keys.delayedOrder, keys.ready], [now, n]));
    });
    const moved = await Promise.all(moves);
    return moved.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  claim(request: ClaimRequest): Promise<Lease[]> {
    return claimLeases({
      redis: this.#redis,
      scripts: this.#scripts,
      keys: (q) => this.#keys(q),
      groupBase: groupKeysBase(this.#prefix),
    }, request);
  }

  async extend(
    leases: ReadonlyArray<{ taskId: string; leaseId: string }>,
    ttlMs: number,
    now: number,
  ): Promise<Set<string>> {
    const extended = new Set<string>();
    if (leases.length === 0) return extended;
    const routed = await this.#byQueue(leases);
    const calls: Promise<unknown>[] = [];
    for (const [queue, list] of routed) {
      const keys = this.#keys(queue);
      for (const chunk of chunks(list, CHUNK)) {
        const args: string[] = chunk.flatMap((l) => [l.taskId, l.leaseId]);
        calls.push(this.#scripts.run("extend", [keys.leases, keys.leaseExpiry], [now + ttlMs, ...args]));
      }
    }
    for (const ids of await Promise.all(calls)) for (const id of ids as string[]) extended.add(id);
    return extended;
  }

  async release(taskId: string, leaseId: string): Promise<boolean> {
    return await this.releaseMany([{ taskId, leaseId }]) > 0;
  }

  async releaseMany(leases: ReadonlyArray<{ taskId: string; leaseId: string }>): Promise<number> {
    if (leases.length === 0) return 0;
    const routed = await this.#byQueue(leases);
    const calls: Promise<unknown>[] = [];
    for (const [queue, list] of routed) {
      const keys = this.#keys(queue);
      for (const chunk of chunks(list, CHUNK)) {
        calls.push(this.#scripts.run(
          "release",
          [
            keys.leases,
            keys.leaseWorkers,
            keys.leaseExpiry,
            keys.workerLeases,
            keys.taskGroups,
            this.#groupBase,
          ],
          chunk.flatMap((l) => [l.taskId, l.leaseId]),
        ));
      }
    }
    return (await Promise.all(calls)).reduce<number>((sum, n) => sum + Number(n), 0);
  }

  /** Leases by the queue to look in: a lease id this broker did not make names none, so every known queue. */
  async #byQueue<T extends { leaseId: string }>(leases: readonly T[]): Promise<Map<string, T[]>> {
    const { routed, unrouted } = this.#route(leases);
    if (unrouted.length > 0) {
      for (const queue of await this.#knownQueues()) {
        routed.set(queue, [...(routed.get(queue) ?? []), ...unrouted]);
      }
    }
    return routed;
  }

  /** Groups leases by the queue their id names; ids naming none (or no valid queue) are unrouted. */
  #route<T extends { leaseId: string }>(leases: readonly T[]): { routed: Map<string, T[]>; unrouted: T[] } {
    const routed = new Map<string, T[]>();
    const unrouted: T[] = [];
    for (const lease of leases) {
      const queue = queueOfLeaseId(lease.leaseId);
      if (queue === undefined) unrouted.push(lease);
      // A queue Redis cannot key (a forged id) holds no lease: nothing to do for it.
      else if (isKeyableQueue(queue)) {
        const list = routed.get(queue);
        if (list) list.push(lease);
        else routed.set(queue, [lease]);
      }
    }
    return { routed, unrouted };
  }

  async takeExpired(now: number, limit: number): Promise<Lease[]> {
    if (limit <= 0) return [];
    const queues = await this.#knownQueues();
    // Read the oldest per queue first, so the limit takes the oldest across all queues.
    const heads = await Promise.all(queues.map(async (queue) => {
      const flat = await this.#redis.zrangebyscore(
        this.#keys(queue).leaseExpiry,
        "-inf",
        now,
        "WITHSCORES",
        "LIMIT",
        0,
        limit,
      );
      const out = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ queue, id: flat[i], score: Number(flat[i + 1]) });
      return out;
    }));
    const oldest = heads.flat().sort(compareScored).slice(0, limit);
    const quota = new Map<string, number>();
    for (const head of oldest) quota.set(head.queue, (quota.get(head.queue) ?? 0) + 1);
    const results = await Promise.all([...quota].map(async ([queue, n]) => {
      const keys = this.#keys(queue);
      const flat = await this.#scripts.run(
        "takeExpired",
        [
          keys.leaseExpiry,
          keys.leases,
          keys.leaseWorkers,
          keys.workerLeases,
          keys.taskGroups,
          this.#groupBase,
        ],
        [now, n],
      ) as string[];
      const leases: Lease[] = [];
      for (let i = 0; i < flat.length; i += 4) {
        leases.push({
          taskId: flat[i],
          queue,
          leaseId: flat[i + 1],
          workerId: flat[i + 2],
          expiresAt: Number(flat[i + 3]),
        });
      }
      return leases;
    }));
    return results.flat().sort(byExpiry);
  }

  async restoreLeases(leases: readonly Lease[]): Promise<void> {
    if (leases.length === 0) return;
    const byQueue = groupBy(leases, (l) => l.queue);
    // Keys first: a queue Redis cannot key fails the call before anything is written.
    const perQueue = [...byQueue].map(([queue, list]) => ({ keys: this.#keys(queue), list }));
    await Promise.all([
      this.#redis.sadd(queueRegistryKey(this.#prefix), ...byQueue.keys()),
      ...perQueue.flatMap(({ keys, list }) =>
        chunks(list, CHUNK).map((chunk) =>
          this.#scripts.run(
            "restoreLeases",
            [
              keys.leases,
              keys.leaseWorkers,
              keys.leaseExpiry,
              keys.workerLeases,
              keys.taskGroups,
              this.#groupBase,
            ],
            chunk.flatMap((l) => [l.taskId, l.leaseId, l.workerId, l.expiresAt, l.group ?? ""]),
          )
        )
      ),
    ]);
  }

  async leasesOf(workerId: string): Promise<Lease[]> {
    const queues = await this.#knownQueues();
    const perQueue = await Promise.all(queues.map(async (queue) => {
      const keys = this.#keys(queue);
      const flat = await this.#scripts.run(
        "leasesOf",
        [workerLeasesKey(this.#prefix, queue, workerId), keys.leases, keys.leaseWorkers, keys.leaseExpiry],
        [workerId],
      ) as string[];
      const leases: Lease[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        leases.push({
          taskId: flat[i],
          queue,
          leaseId: flat[i + 1],
          workerId,
          expiresAt: Number(flat[i + 2]),
        });
      }
      return leases;
    }));
    return perQueue.flat().sort(byExpiry);
  }

  async remove(taskId: string, queue: string): Promise<void> {
    const keys = this.#keys(queue);
    await this.#scripts.run(
      "remove",
      [
        keys.ready,
        keys.delayed,
        keys.delayedOrder,
        keys.leases,
        keys.leaseWorkers,
        keys.leaseExpiry,
        keys.workerLeases,
        keys.taskTypes,
        keys.taskGroups,
        this.#groupBase,
      ],
      [taskId],
    );
  }

  async setPaused(queue: string, paused: boolean): Promise<void> {
    const keys = this.#keys(queue);
    if (paused) {
      await Promise.all([
        this.#redis.set(keys.paused, "1"),
        this.#redis.sadd(queueRegistryKey(this.#prefix), queue),
      ]);
    } else {
      await this.#redis.del(keys.paused);
    }
  }

  async setLimits(scope: LimitScope, limits: Limits | null): Promise<void> {
    const key = "queue" in scope
      ? this.#keys(scope.queue).limits
      : groupKeys(this.#prefix, scope.group).limits;
    if ("queue" in scope) await this.#redis.sadd(queueRegistryKey(this.#prefix), scope.queue);
    if (limits === null || (limits.concurrency <= 0 && limits.ratePerSecond <= 0)) {
      await this.#redis.del(key);
      return;
    }
    await this.#redis.hset(key, {
      concurrency: Math.max(0, Math.floor(limits.concurrency)),
      rate: Math.max(0, limits.ratePerSecond),
      burst: Math.max(0, Math.floor(limits.burst)),
    });
  }

  async groupRunning(group: string): Promise<number> {
    return await this.#redis.scard(groupKeys(this.#prefix, group).running);
  }

  async isPaused(queue: string): Promise<boolean> {
    return (await this.#redis.exists(this.#keys(queue).paused)) === 1;
  }

  async counts(queue: string): Promise<QueueCounts> {
    const keys = this.#keys(queue);
    const [ready, delayed, leased] = await Promise.all([
      this.#redis.zcard(keys.ready),
      this.#redis.zcard(keys.delayed),
      this.#redis.zcard(keys.leaseExpiry),
    ]);
    return { ready, delayed, leased };
  }

  async needsRebuild(): Promise<boolean> {
    if ((await this.#redis.exists(rebuiltKey(this.#prefix))) === 1) return false;
    // Name this rebuild, so a flush while it runs keeps it from being marked done.
    const token = crypto.randomUUID();
    await this.#redis.set(rebuildingKey(this.#prefix), token);
    this.#rebuildToken = token;
    return true;
  }

  async markRebuilt(): Promise<void> {
    const token = this.#rebuildToken;
    this.#rebuildToken = "";
    const marked = await this.#scripts.run(
      "markRebuilt",
      [rebuildingKey(this.#prefix), rebuiltKey(this.#prefix)],
      [token],
    );
    if (marked === 0) {
      this.#log.warn("broker state was lost again while it was rebuilt: it will be rebuilt once more");
    } else if (marked === 2) {
      this.#log.info("another instance started rebuilding the broker meanwhile: it marks the rebuild done");
    }
  }

  notify(queue: string): Promise<void> {
    return this.#wake.notify(queue);
  }

  subscribe(listener: (queue: string) => void): Promise<() => Promise<void>> {
    return this.#wake.subscribe(listener);
  }

  /** Closes what the broker opened (its subscriber); the command connection is the caller's. */
  close(): Promise<void> {
    return this.#wake.close();
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function byExpiry(a: Lease, b: Lease): number {
  return compareScored({ score: a.expiresAt, id: a.taskId }, { score: b.expiresAt, id: b.taskId });
}
