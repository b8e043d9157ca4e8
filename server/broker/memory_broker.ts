/**
 * The broker for embedded mode: one process, state in memory, wake-ups in-process.
 * It keeps the Redis broker's exact rules (ordering and its ties, leases current until
 * taken, restore never replacing a newer lease) so one conformance suite holds both.
 * A fresh process has lost everything, so it needs a rebuild until `markRebuilt`.
 */
import { createLogger, type Logger } from "../log.ts";
import type { Broker, BrokerTask, ClaimRequest, Lease, Limits, LimitScope, QueueCounts } from "./broker.ts";
import { IndexedHeap } from "./_indexed_heap.ts";
import { type Allowance, MemoryLimits, SCAN_LIMIT } from "./_memory_limits.ts";
import { newLeaseId } from "./_lease_id.ts";
import { compareScored, taskScore } from "./_order.ts";

interface QueueState {
  /** task id → ready score */
  ready: IndexedHeap;
  /** task id → runAt */
  delayed: IndexedHeap;
  /** task id → the ready score a delayed task gets when promoted */
  delayedOrder: Map<string, number>;
  /** task ids leased from this queue */
  leased: Set<string>;
  paused: boolean;
}

export interface MemoryBrokerOptions {
  /** Where a failing subscriber is reported; stdout JSON by default. */
  log?: Logger;
}

export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  return new MemoryBroker(options.log ?? createLogger());
}

class MemoryBroker implements Broker {
  readonly #queues = new Map<string, QueueState>();
  readonly #leases = new Map<string, Lease>();
  /** task id → lease expiry, across queues: takeExpired is oldest first over all of them. */
  readonly #expiry = new IndexedHeap();
  readonly #byWorker = new Map<string, Set<string>>();
  readonly #listeners = new Set<(queue: string) => void>();
  /** task id → type, of ready and delayed tasks (what a claim routes by) */
  readonly #types = new Map<string, string>();
  /** task id → limit group, until its lease ends */
  readonly #groups = new Map<string, string>();
  readonly #limits = new MemoryLimits();
  readonly #log: Logger;
  #rebuilt = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  #queue(name: string): QueueState {
    let q = this.#queues.get(name);
    if (!q) {
      q = {
        ready: new IndexedHeap(),
        delayed: new IndexedHeap(),
        delayedOrder: new Map(),
        leased: new Set(),
        paused: false,
      };
      this.#queues.set(name, q);
    }
    return q;
  }

  add(tasks: readonly BrokerTask[], now: number): Promise<void> {
    // Score every task first, so a bad one changes nothing; the error rejects, as from Redis.
    let scored: Array<{ task: BrokerTask; score: number }>;
    try {
      scored = tasks.map((t) => ({ task: t, score: taskScore(t) }));
    } catch (error) {
      return Promise.reject(error);
    }
    for (const { task, score } of scored) {
      // In flight: its lease's end decides whether it runs again (add-6.lua).
      if (this.#leases.has(task.id)) continue;
      const q = this.#queue(task.queue);
      if (task.type) this.#types.set(task.id, task.type);
      else this.#types.delete(task.id);
      if (task.group) this.#groups.set(task.id, task.group);
      if (task.runAt <= now) {
        q.delayed.delete(task.id);
        q.delayedOrder.delete(task.id);
        q.ready.set(task.id, score);
      } else {
        q.ready.delete(task.id);
        q.delayed.set(task.id, task.runAt);
        q.delayedOrder.set(task.id, score);
      }
    }
    return Promise.resolve();
  }

  promote(now: number, limit: number): Promise<number> {
    let moved = 0;
    for (const q of this.#queues.values()) {
      while (moved < limit) {
        const next = q.delayed.peek();
        if (!next || next.score > now) break;
        q.delayed.pop();
        q.ready.set(next.id, q.delayedOrder.get(next.id)!);
        q.delayedOrder.delete(next.id);
        moved++;
      }
    }
    return Promise.resolve(moved);
  }

  claim(request: ClaimRequest): Promise<Lease[]> {
    const now = request.now;
    const types = request.types?.length ? new Set(request.types) : undefined;
    const open = [...new Set(request.queues)]
      .map((name) => ({ name, state: this.#queues.get(name) }))
      .filter((q): q is { name: string; state: QueueState } => q.state !== undefined && !q.state.paused)
      .map((q) => ({
        ...q,
        allowance: this.#limits.allowance({ queue: q.name }, q.state.leased.size, now),
        passed: [] as Array<{ id: string; score: number }>,
      }));
    const groups = new Map<string, Allowance>();
    const groupOf = (name: string) => {
      let g = groups.get(name);
      if (!g) {
        groups.set(name, g = this.#limits.allowance({ group: name }, this.#limits.groupRunning(name), now));
      }
      return g;
    };
    const expiresAt = request.now + request.leaseTtlMs;
    const leases: Lease[] = [];
    let limited: number | undefined;
    const limitHit = (ms: number) => limited = Math.min(limited ?? ms, ms);
    while (leases.length < request.max) {
      let best: (typeof open)[number] | undefined;
      let bestHead: { id: string; score: number } | undefined;
      for (const q of open) {
        if (q.passed.length >= SCAN_LIMIT) continue;
        if (q.allowance.left <= 0) {
          if (q.state.ready.size > 0) limitHit(q.allowance.retryIn());
          continue;
        }
        const head = q.state.ready.peek();
        if (head && (!bestHead || compareScored(head, bestHead) < 0)) [best, bestHead] = [q, head];
      }
      if (!best || !bestHead) break;
      const head = { id: bestHead.id, score: bestHead.score };
      best.state.ready.pop();
      const type = this.#types.get(head.id);
      const group = this.#groups.get(head.id);
      const allowance = group ? groupOf(group) : undefined;
      if (allowance && allowance.left <= 0 && !(types && type !== undefined && !types.has(type))) {
        limitHit(allowance.retryIn());
      }
      if ((types && type !== undefined && !types.has(type)) || (allowance && allowance.left <= 0)) {
        // Passed over: it goes back to ready when the claim is done.
        best.passed.push(head);
        continue;
      }
      best.allowance.take();
      allowance?.take();
      this.#types.delete(head.id);
      const lease: Lease = {
        taskId: head.id,
        queue: best.name,
        leaseId: newLeaseId(best.name, request.now),
        workerId: request.workerId,
        expiresAt,
      };
      // A task re-added while still leased gets a new lease; the old one stops being current.
      this.#dropLease(lease.taskId, false);
      this.#putLease(lease);
      if (group) this.#limits.groupLease(group, lease.taskId, true);
      leases.push({ ...lease });
    }
    for (const q of open) {
      for (const { id, score } of q.passed) q.state.ready.set(id, score);
      q.allowance.commit();
    }
    for (const g of groups.values()) g.commit();
    if (limited !== undefined) request.onLimited?.(limited);
    return Promise.resolve(leases);
  }

  extend(
    leases: ReadonlyArray<{ taskId: string; leaseId: string }>,
    ttlMs: number,
    now: number,
  ): Promise<Set<string>> {
    const extended = new Set<string>();
    for (const { taskId, leaseId } of leases) {
      const lease = this.#leases.get(taskId);
      if (lease?.leaseId !== leaseId) continue;
      lease.expiresAt = now + ttlMs;
      this.#expiry.set(taskId, lease.expiresAt);
      extended.add(leaseId);
    }
    return Promise.resolve(extended);
  }

  async release(taskId: string, leaseId: string): Promise<boolean> {
    return await this.releaseMany([{ taskId, leaseId }]) === 1;
  }

  releaseMany(leases: ReadonlyArray<{ taskId: string; leaseId: string }>): Promise<number> {
    let released = 0;
    for (const { taskId, leaseId } of leases) {
      if (this.#leases.get(taskId)?.leaseId !== leaseId) continue;
      this.#dropLease(taskId);
      released++;
    }
    return Promise.resolve(released);
  }

  takeExpired(now: number, limit: number): Promise<Lease[]> {
    const taken: Lease[] = [];
    while (taken.length < limit) {
      const next = this.#expiry.peek();
      if (!next || next.score > now) break;
      const lease = this.#leases.get(next.id)!;
      this.#dropLease(next.id);
      taken.push({ ...lease });
    }
    return Promise.resolve(taken);
  }

  restoreLeases(leases: readonly Lease[]): Promise<void> {
    for (const lease of leases) {
      // A lease already here was made after Postgres was read, so it is at least as new.
      if (this.#leases.has(lease.taskId)) continue;
      this.#putLease({ ...lease });
      if (lease.group) {
        this.#groups.set(lease.taskId, lease.group);
        this.#limits.groupLease(lease.group, lease.taskId, true);
      }
    }
    return Promise.resolve();
  }

  leasesOf(workerId: string): Promise<Lease[]> {
    const ids = this.#byWorker.get(workerId) ?? new Set<string>();
    const leases = [...ids].map((id) => ({ ...this.#leases.get(id)! }));
    leases.sort((a, b) =>
      compareScored({ score: a.expiresAt, id: a.taskId }, { score: b.expiresAt, id: b.taskId })
    );
    return Promise.resolve(leases);
  }

  remove(taskId: string, queue: string): Promise<void> {
    const q = this.#queues.get(queue);
    if (q) {
      q.ready.delete(taskId);
      q.delayed.delete(taskId);
      q.delayedOrder.delete(taskId);
    }
    if (this.#leases.get(taskId)?.queue === queue) this.#dropLease(taskId);
    this.#types.delete(taskId);
    const group = this.#groups.get(taskId);
    if (group) {
      this.#limits.groupLease(group, taskId, false);
      this.#groups.delete(taskId);
    }
    return Promise.resolve();
  }

  setPaused(queue: string, paused: boolean): Promise<void> {
    this.#queue(queue).paused = paused;
    return Promise.resolve();
  }

  setLimits(scope: LimitScope, limits: Limits | null): Promise<void> {
    this.#limits.set(scope, limits);
    return Promise.resolve();
  }

  groupRunning(group: string): Promise<number> {
    return Promise.resolve(this.#limits.groupRunning(group));
  }

  isPaused(queue: string): Promise<boolean> {
    return Promise.resolve(this.#queues.get(queue)?.paused ?? false);
  }

  counts(queue: string): Promise<QueueCounts> {
    const q = this.#queues.get(queue);
    return Promise.resolve({
      ready: q?.ready.size ?? 0,
      delayed: q?.delayed.size ?? 0,
      leased: q?.leased.size ?? 0,
    });
  }

  needsRebuild(): Promise<boolean> {
    return Promise.resolve(!this.#rebuilt);
  }

  markRebuilt(): Promise<void> {
    this.#rebuilt = true;
    return Promise.resolve();
  }

  notify(queue: string): Promise<void> {
    for (const listener of [...this.#listeners]) {
      try {
        listener(queue);
      } catch (error) {
        this.#log.error("a broker subscriber failed", { queue, error });
      }
    }
    return Promise.resolve();
  }

  subscribe(listener: (queue: string) => void): Promise<() => Promise<void>> {
    // Wrapped so the same function subscribed twice is two subscriptions, as with Redis.
    const own = (queue: string) => listener(queue);
    this.#listeners.add(own);
    return Promise.resolve(() => {
      this.#listeners.delete(own);
      return Promise.resolve();
    });
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }

  #putLease(lease: Lease): void {
    this.#leases.set(lease.taskId, lease);
    this.#expiry.set(lease.taskId, lease.expiresAt);
    this.#queue(lease.queue).leased.add(lease.taskId);
    let mine = this.#byWorker.get(lease.workerId);
    if (!mine) this.#byWorker.set(lease.workerId, mine = new Set());
    mine.add(lease.taskId);
  }

  /** Ends a lease; `ended` also takes the task out of its limit group (false when a claim replaces it). */
  #dropLease(taskId: string, ended = true): void {
    const lease = this.#leases.get(taskId);
    if (!lease) return;
    const group = this.#groups.get(taskId);
    if (ended && group) {
      this.#limits.groupLease(group, taskId, false);
      this.#groups.delete(taskId);
    }
    this.#leases.delete(taskId);
    this.#expiry.delete(taskId);
    this.#queues.get(lease.queue)?.leased.delete(taskId);
    const mine = this.#byWorker.get(lease.workerId);
    mine?.delete(taskId);
    if (mine?.size === 0) this.#byWorker.delete(lease.workerId);
  }
}
