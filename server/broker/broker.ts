/**
 * The broker is the hot path of the task runtime: which tasks are ready, which are
 * delayed, and which are leased to whom until when. It holds nothing that Postgres
 * does not also know — after a Redis restart or flush the reconciler rebuilds it
 * from the task table — so every method may be retried and losing the broker loses
 * no task.
 *
 * Two implementations pass one conformance suite: Redis (Lua scripts, for many
 * server instances) and in-memory (embedded mode, one process).
 */

/** A task as the broker needs it: where it goes and in what order it comes out. */
export interface BrokerTask {
  id: string;
  queue: string;
  /** 0–9, higher first. */
  priority: number;
  /** Postgres insertion sequence: FIFO within a priority, stable across rebuilds. */
  seq: number;
  /** Milliseconds since the epoch; the task is delayed until then. */
  runAt: number;
  /** Its task type: a claim that names types takes only these (routing). Unset: any worker. */
  type?: string;
  /** The limit group it counts against; unset or "" for none. */
  group?: string;
}

export interface Lease {
  taskId: string;
  queue: string;
  leaseId: string;
  workerId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** The task's limit group, for restoreLeases to count it; unset or "" for none. */
  group?: string;
}

/**
 * Concurrency and rate limits of a queue or a limit group; 0 means no limit. The rate is
 * a token bucket: `burst` tokens at most, refilled at `ratePerSecond`, one per start.
 */
export interface Limits {
  concurrency: number;
  ratePerSecond: number;
  burst: number;
}

/** What limits apply to: a queue, or a limit group (across every queue). */
export type LimitScope = { queue: string } | { group: string };

export interface ClaimRequest {
  /** Queues to take from; paused queues are skipped. */
  queues: readonly string[];
  /** Most tasks to take (the worker's free slots). */
  max: number;
  workerId: string;
  leaseTtlMs: number;
  now: number;
  /**
   * Task types the worker handles; empty or unset means any. Tasks of other types are
   * left in ready for another worker (see claim-11.lua for how far a claim looks past them).
   */
  types?: readonly string[];
  /**
   * Called when a limit kept the claim short: with the ms until a rate token is due, or
   * 0 for a concurrency limit (a running task must end first). A dispatcher tries again then.
   */
  onLimited?: (retryInMs: number) => void;
}

export interface QueueCounts {
  ready: number;
  delayed: number;
  leased: number;
}

export interface Broker {
  /** Adds tasks, ready when runAt ≤ now and delayed otherwise. Adding a known task id again moves it. */
  add(tasks: readonly BrokerTask[], now: number): Promise<void>;
  /** Moves delayed tasks whose time has come to ready; returns how many moved. */
  promote(now: number, limit: number): Promise<number>;
  /**
   * Takes up to `max` ready tasks across the queues — highest priority first, then
   * lowest seq — and leases each to the worker with a fresh lease id. A task is passed
   * over (left ready) when the worker did not declare its type or its limit group is
   * full; a queue gives no more than its concurrency limit and its rate tokens allow.
   */
  claim(request: ClaimRequest): Promise<Lease[]>;
  /** Extends the given leases if they are still current; returns the lease ids extended. */
  extend(
    leases: ReadonlyArray<{ taskId: string; leaseId: string }>,
    ttlMs: number,
    now: number,
  ): Promise<Set<string>>;
  /** Ends a lease; false when it was not current (expired, or replaced). */
  release(taskId: string, leaseId: string): Promise<boolean>;
  /** Ends every lease of the list that is still current (one script call per queue); returns how many. */
  releaseMany(leases: ReadonlyArray<{ taskId: string; leaseId: string }>): Promise<number>;
  /** Removes and returns leases that expired at or before `now`, oldest first. */
  takeExpired(now: number, limit: number): Promise<Lease[]>;
  /**
   * Puts back leases that Postgres says are running, after the broker lost its state:
   * the workers holding them keep extending them and their results are accepted.
   */
  restoreLeases(leases: readonly Lease[]): Promise<void>;
  /** Current leases of a worker (to expire them at once when its stream ends). */
  leasesOf(workerId: string): Promise<Lease[]>;
  /** Forgets a task wherever it is (ready, delayed or leased): cancel and purge. */
  remove(taskId: string, queue: string): Promise<void>;
  setPaused(queue: string, paused: boolean): Promise<void>;
  /** Sets (or with null, removes) the limits of a queue or a limit group; a rebuild sets them again. */
  setLimits(scope: LimitScope, limits: Limits | null): Promise<void>;
  /** How many tasks of a limit group hold a lease now. */
  groupRunning(group: string): Promise<number>;
  isPaused(queue: string): Promise<boolean>;
  counts(queue: string): Promise<QueueCounts>;
  /**
   * True when the broker lost its state (new Redis, restart without persistence,
   * FLUSHALL) since `markRebuilt` was last called: the reconciler must rebuild it.
   */
  needsRebuild(): Promise<boolean>;
  markRebuilt(): Promise<void>;
  /** Tells waiting dispatchers, in any server instance, that a queue may have work. */
  notify(queue: string): Promise<void>;
  /** Calls `listener` with the queue name whenever `notify` is called anywhere; returns an unsubscribe. */
  subscribe(listener: (queue: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
