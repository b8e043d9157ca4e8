/**
 * Every Redis key of the task runtime, built here and nowhere else.
 *
 * A queue's keys all carry the queue's hash tag (`tm:{emails}:ready`), so each Lua
 * script that changes one queue touches one slot and runs on a Redis Cluster. A lease
 * lives with its task's queue for the same reason: claiming (pop from ready, create
 * the lease) is one script, never two slots. The runtime's few singletons share the
 * `{meta}` tag.
 *
 * Rate-limit buckets keep their own keys in server/ratelimit/keys.ts.
 */

/** The prefix every key starts with unless a caller (a test) gives its own. */
export const DEFAULT_PREFIX = "tm";

/** The keys of one queue; every one hashes to the queue's slot. */
export interface QueueKeys {
  /** ZSET task id → (9 − priority) × 1e13 + seq: the lowest score is claimed first. */
  ready: string;
  /** ZSET task id → runAt (epoch ms): tasks waiting for their time. */
  delayed: string;
  /** HASH task id → the ready score a delayed task gets when it is promoted. */
  delayedOrder: string;
  /** STRING "1" while the queue is paused; absent otherwise. */
  paused: string;
  /** HASH task id → lease id of the task's current lease. */
  leases: string;
  /** HASH task id → worker id holding the task's current lease. */
  leaseWorkers: string;
  /** ZSET task id → lease expiry (epoch ms): what takeExpired reads. */
  leaseExpiry: string;
  /**
   * The start of the per-worker lease sets: `workerLeases + workerId` is a SET of the
   * task ids that worker holds in this queue. Scripts receive this base as a key (so a
   * client's keyPrefix and the Cluster slot both apply) and append the worker id.
   */
  workerLeases: string;
  /** HASH concurrency, rate, burst: the queue's limits (absent: none). */
  limits: string;
  /** HASH tokens, at: the queue's rate-limit bucket. */
  bucket: string;
  /** HASH task id → type, of ready and delayed tasks: what a claim routes by. */
  taskTypes: string;
  /** HASH task id → limit group, of the queue's tasks that name one, until their lease ends. */
  taskGroups: string;
}

/** Whether a queue name can be a hash tag: a brace would move the tag, and the queue's keys, to other slots. */
export function isKeyableQueue(queue: string): boolean {
  return queue.length > 0 && !/[{}]/.test(queue);
}

export function queueKeys(prefix: string, queue: string): QueueKeys {
  if (!isKeyableQueue(queue)) {
    throw new RangeError(
      `"${queue.slice(0, 80)}" cannot be a queue in Redis: use a non-empty name without { or }`,
    );
  }
  const base = `${prefix}:{${queue}}`;
  return {
    ready: `${base}:ready`,
    delayed: `${base}:delayed`,
    delayedOrder: `${base}:delayed_order`,
    paused: `${base}:paused`,
    leases: `${base}:leases`,
    leaseWorkers: `${base}:lease_workers`,
    leaseExpiry: `${base}:lease_expiry`,
    workerLeases: `${base}:worker:`,
    limits: `${base}:limits`,
    bucket: `${base}:bucket`,
    taskTypes: `${base}:task_types`,
    taskGroups: `${base}:task_groups`,
  };
}

/**
 * The start of every limit group's keys: `base + group + "}:limits"` (HASH concurrency,
 * rate, burst), `"}:bucket"` (HASH tokens, at) and `"}:running"` (SET of leased task ids).
 * The scripts receive this base as a key and append the rest, as with workerLeases.
 */
export function groupKeysBase(prefix: string): string {
  return `${prefix}:{lg:`;
}

/** Whether a limit group can be part of a key: the same charset the service accepts. */
export function isKeyableGroup(group: string): boolean {
  return /^[A-Za-z0-9_.:@+-]{1,128}$/.test(group);
}

export function groupKeys(
  prefix: string,
  group: string,
): { limits: string; bucket: string; running: string } {
  if (!isKeyableGroup(group)) {
    throw new RangeError(`"${group.slice(0, 80)}" cannot be a limit group: use 1–128 of [A-Za-z0-9_.:@+-]`);
  }
  const base = groupKeysBase(prefix) + group;
  return { limits: `${base}}:limits`, bucket: `${base}}:bucket`, running: `${base}}:running` };
}

/** SET of task ids a worker holds in a queue; the same name the scripts build from `workerLeases`. */
export function workerLeasesKey(prefix: string, queue: string, workerId: string): string {
  return queueKeys(prefix, queue).workerLeases + workerId;
}

/** SET of every queue name the broker has seen: promote, takeExpired and leasesOf visit each. */
export function queueRegistryKey(prefix: string): string {
  return `${prefix}:{meta}:queues`;
}

/**
 * STRING, present once the broker was rebuilt from Postgres. A FLUSHALL or a Redis
 * restart without persistence removes it, which is how the reconciler learns to rebuild.
 */
export function rebuiltKey(prefix: string): string {
  return `${prefix}:{meta}:rebuilt`;
}

/**
 * STRING, a token naming the rebuild in progress. Set when a rebuild is found to be
 * needed; a flush during the rebuild removes it, so that rebuild is not marked done.
 */
export function rebuildingKey(prefix: string): string {
  return `${prefix}:{meta}:rebuilding`;
}

/**
 * STRING, the id of the server instance that reports the queue-wide gauges on /metrics,
 * with a TTL each scrape renews (server/observability/reporter_lease.ts).
 */
export function metricsReporterKey(prefix: string): string {
  return `${prefix}:{meta}:metrics_reporter`;
}

/** Pub/sub channel (not a key) carrying queue names whose dispatchers should wake. */
export function wakeChannel(prefix: string): string {
  return `${prefix}:{meta}:wake`;
}

/** STRING, the id of the server instance that evaluates the alert rules, with a TTL (server/alerts/lease.ts). */
export function alertsLeaseKey(prefix: string): string {
  return `${prefix}:{meta}:alerts_lease`;
}

/**
 * HASH of the workers connected to any server instance: worker id → JSON of what
 * ListWorkers shows, with the owning instance and when it last wrote the entry.
 */
export function workerRegistryKey(prefix: string): string {
  return `${prefix}:{workers}:registry`;
}

/** Pub/sub channel (not a key) carrying requests for the instance holding a worker's stream. */
export function workerControlChannel(prefix: string): string {
  return `${prefix}:{workers}:control`;
}

/**
 * Pub/sub channel (not a key) carrying revocations (an API key revoked, a user disabled,
 * sessions signed out) to every instance, which ends the streams those credentials hold
 * (server/authz/revocations.ts). Its own `{auth}` tag: nothing of the task runtime rides it.
 */
export function revocationChannel(prefix: string): string {
  return `${prefix}:{auth}:revocations`;
}
