/**
 * SQL of limits and per-type defaults: a queue's concurrency and rate limits (columns of
 * queues), limit groups, and what an Enqueue of a type gets for the fields it leaves
 * unset. Postgres holds them so a broker rebuild can set the limits again.
 */
import type { Limits } from "../broker/broker.ts";
import type { Backoff } from "./model.ts";
import type { Db } from "./task_queries.ts";

/** A queue's or a group's limits, 0 for none; stored as null. */
export interface NamedLimits extends Limits {
  name: string;
}

export interface TypeDefaults {
  type: string;
  queue: string | null;
  maxAttempts: number | null;
  backoff: Backoff | null;
  timeoutMs: number | null;
  updatedAt: number;
}

interface LimitRow {
  name: string;
  concurrency_limit: number | null;
  rate_limit_per_second: number | null;
  rate_limit_burst: number | null;
}

function toLimits(row: LimitRow): NamedLimits {
  return {
    name: row.name,
    concurrency: row.concurrency_limit ?? 0,
    ratePerSecond: row.rate_limit_per_second ?? 0,
    burst: row.rate_limit_burst ?? 0,
  };
}

const orNull = (n: number) => (n > 0 ? n : null);

/** Sets a queue's limits, creating its row if the queue was never used. */
export async function upsertQueueLimits(db: Db, name: string, limits: Limits, now: number): Promise<void> {
  const at = new Date(now);
  await db`
    insert into queues (name, concurrency_limit, rate_limit_per_second, rate_limit_burst, created_at, updated_at)
    values (${name}, ${orNull(limits.concurrency)}, ${orNull(limits.ratePerSecond)}, ${orNull(limits.burst)},
      ${at}, ${at})
    on conflict (name) do update set concurrency_limit = excluded.concurrency_limit,
      rate_limit_per_second = excluded.rate_limit_per_second, rate_limit_burst = excluded.rate_limit_burst,
      updated_at = excluded.updated_at`;
}

export async function upsertGroupLimits(db: Db, name: string, limits: Limits, now: number): Promise<void> {
  const at = new Date(now);
  await db`
    insert into limit_groups (name, concurrency_limit, rate_limit_per_second, rate_limit_burst, created_at, updated_at)
    values (${name}, ${orNull(limits.concurrency)}, ${orNull(limits.ratePerSecond)}, ${orNull(limits.burst)},
      ${at}, ${at})
    on conflict (name) do update set concurrency_limit = excluded.concurrency_limit,
      rate_limit_per_second = excluded.rate_limit_per_second, rate_limit_burst = excluded.rate_limit_burst,
      updated_at = excluded.updated_at`;
}

/** Every queue and group that has a limit: what a broker rebuild sets again. */
export async function selectAllLimits(db: Db): Promise<{ queues: NamedLimits[]; groups: NamedLimits[] }> {
  const [queues, groups] = await Promise.all([
    db<LimitRow[]>`
      select name, concurrency_limit, rate_limit_per_second, rate_limit_burst from queues
      where concurrency_limit is not null or rate_limit_per_second is not null order by name`,
    db<LimitRow[]>`
      select name, concurrency_limit, rate_limit_per_second, rate_limit_burst from limit_groups
      where concurrency_limit is not null or rate_limit_per_second is not null order by name`,
  ]);
  return { queues: queues.map(toLimits), groups: groups.map(toLimits) };
}

/** Limit groups after `after` by name, `limit` of them. */
export async function selectGroups(db: Db, after: string, limit: number): Promise<NamedLimits[]> {
  const rows = await db<LimitRow[]>`
    select name, concurrency_limit, rate_limit_per_second, rate_limit_burst from limit_groups
    where name > ${after} order by name limit ${limit}`;
  return rows.map(toLimits);
}

interface DefaultsRow {
  type: string;
  queue: string | null;
  max_attempts: number | null;
  backoff_initial_ms: string | null;
  backoff_max_ms: string | null;
  backoff_multiplier: number | null;
  timeout_ms: number | null;
  updated_at: Date;
}

function toDefaults(row: DefaultsRow): TypeDefaults {
  return {
    type: row.type,
    queue: row.queue,
    maxAttempts: row.max_attempts,
    backoff: row.backoff_initial_ms === null ? null : {
      initialMs: Number(row.backoff_initial_ms),
      maxMs: Number(row.backoff_max_ms),
      multiplier: row.backoff_multiplier ?? 2,
    },
    timeoutMs: row.timeout_ms,
    updatedAt: row.updated_at.getTime(),
  };
}

/** Sets a type's defaults; with every field null, removes them. */
export async function upsertTypeDefaults(db: Db, d: Omit<TypeDefaults, "updatedAt">, now: number) {
  if (d.queue === null && d.maxAttempts === null && d.backoff === null && d.timeoutMs === null) {
    await db`delete from task_type_defaults where type = ${d.type}`;
    return;
  }
  const at = new Date(now);
  await db`
    insert into task_type_defaults (type, queue, max_attempts, backoff_initial_ms, backoff_max_ms,
      backoff_multiplier, timeout_ms, updated_at)
    values (${d.type}, ${d.queue}, ${d.maxAttempts}, ${d.backoff?.initialMs ?? null}, ${
    d.backoff?.maxMs ?? null
  },
      ${d.backoff?.multiplier ?? null}, ${d.timeoutMs}, ${at})
    on conflict (type) do update set queue = excluded.queue, max_attempts = excluded.max_attempts,
      backoff_initial_ms = excluded.backoff_initial_ms, backoff_max_ms = excluded.backoff_max_ms,
      backoff_multiplier = excluded.backoff_multiplier, timeout_ms = excluded.timeout_ms,
      updated_at = excluded.updated_at`;
}

export async function selectTypeDefaults(db: Db, types: readonly string[]): Promise<TypeDefaults[]> {
  if (types.length === 0) return [];
  const rows = await db<DefaultsRow[]>`
    select * from task_type_defaults where type = any(${[...types]}::text[])`;
  return rows.map(toDefaults);
}

export async function selectTypeDefaultsPage(db: Db, after: string, limit: number): Promise<TypeDefaults[]> {
  const rows = await db<DefaultsRow[]>`
    select * from task_type_defaults where type > ${after} order by type limit ${limit}`;
  return rows.map(toDefaults);
}
