/**
 * SQL of queues: a row per queue name ever used, its settings, and the figures ListQueues
 * and WatchQueues show.
 */
import type { Db } from "./task_queries.ts";

/** Creates the rows of queues not seen before; existing ones are left alone (and not locked). */
export async function insertQueues(db: Db, names: string[], now: number): Promise<void> {
  if (names.length === 0) return;
  const at = new Date(now);
  await db`
    insert into queues ${db(names.map((name) => ({ name, created_at: at, updated_at: at })))}
    on conflict (name) do nothing`;
}

export async function upsertQueuePaused(db: Db, name: string, paused: boolean, now: number): Promise<void> {
  const at = new Date(now);
  await db`
    insert into queues (name, paused, created_at, updated_at) values (${name}, ${paused}, ${at}, ${at})
    on conflict (name) do update set paused = excluded.paused, updated_at = excluded.updated_at`;
}

export async function selectPausedQueues(db: Db): Promise<string[]> {
  const rows = await db<{ name: string }[]>`select name from queues where paused order by name`;
  return rows.map((r) => r.name);
}

/** Every queue with a row, and whether it is paused: a rebuild sets the broker's flag both ways. */
export async function selectQueueFlags(db: Db): Promise<{ name: string; paused: boolean }[]> {
  return [...await db<{ name: string; paused: boolean }[]>`select name, paused from queues order by name`];
}

export interface QueueStatsRow {
  name: string;
  paused: boolean;
  waiting: number;
  scheduled: number;
  queued: number;
  running: number;
  dead: number;
  oldest_run_at: Date | null;
  processed: number;
  failed: number;
  concurrency_limit: number | null;
  rate_limit_per_second: number | null;
  rate_limit_burst: number | null;
}

/**
 * Per queue, in name order: counts of the states that stay small (finished tasks pile up
 * and are not counted, except dead letters), the oldest runnable task's run_at, and the
 * attempts that ended in the window (processed: those that succeeded, as the contract's
 * processed_per_second says; failed: failures, expired leases and timeouts, retried or not).
 * A scheduled task whose time has come waits for a worker like a queued one (the broker
 * made it ready; Postgres moves it when it starts), so it counts as queued, as it does in
 * the oldest queued age: a paused queue, or one without a worker, shows its due tasks there.
 */
export async function selectQueueStats(db: Db, now: number, windowMs: number): Promise<QueueStatsRow[]> {
  const at = new Date(now);
  return await db<QueueStatsRow[]>`
    select q.name, q.paused, c.waiting, c.scheduled, c.queued, c.running, c.dead, o.oldest_run_at,
      r.processed, r.failed, q.concurrency_limit, q.rate_limit_per_second, q.rate_limit_burst
    from queues q
    cross join lateral (
      select
        count(*) filter (where state = 'waiting')::int as waiting,
        count(*) filter (where state = 'scheduled' and run_at > ${at})::int as scheduled,
        count(*) filter (where state = 'queued' or (state = 'scheduled' and run_at <= ${at}))::int as queued,
        count(*) filter (where state = 'running')::int as running,
        count(*) filter (where state = 'dead')::int as dead
      from tasks t
      where t.queue = q.name and t.state in ('waiting', 'scheduled', 'queued', 'running', 'dead')
    ) c
    cross join lateral (
      select min(run_at) as oldest_run_at from tasks t
      where t.queue = q.name and t.state in ('queued', 'scheduled') and t.run_at <= ${at}
    ) o
    cross join lateral (
      select
        count(*) filter (where outcome = 'succeeded')::int as processed,
        count(*) filter (where outcome in ('failed', 'lease_expired', 'timed_out'))::int as failed
      from task_attempts a
      where a.queue = q.name and a.ended_at > ${new Date(now - windowMs)} and a.ended_at <= ${at}
    ) r
    order by q.name`;
}
