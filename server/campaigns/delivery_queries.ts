/**
 * SQL of the delivery ledger: one row per run and address (unique), written whole when
 * the run starts, moved pending → claimed → sent | failed | skipped. A row leaves
 * pending or claimed only once: every outcome update is guarded by the state it leaves,
 * so a late or repeated task event changes nothing.
 */
import type postgres from "postgres";

export type Db = postgres.ISql;

export type DeliveryStateWord = "pending" | "claimed" | "sent" | "failed" | "skipped";

export interface DeliveryRow {
  id: string;
  run_id: string;
  campaign_id: string;
  email: string;
  email_key: string;
  user_id: string | null;
  state: DeliveryStateWord;
  skip_reason: string;
  content_item_id: string | null;
  task_id: string | null;
  attempts: number;
  last_error: string;
  message_id: string;
  sent_at: Date | null;
  updated_at: Date;
}

/** Why a member is skipped when the run starts, or when the row is claimed; null to send. */
function skipReasonSql(db: Db) {
  return db`case
    when u.id is null then 'not_a_member'
    when s.reason is not null then s.reason
    when u.disabled_at is not null then 'disabled'
    when u.email_verified_at is null then 'unverified'
    else null end`;
}

/**
 * Writes the rows of the members an `audience` query selects (a tag audience, whole, in
 * SQL: nothing of it passes through the server) or of addresses `emails` (an explicit
 * list) for a run; a row already there is left alone. Message-IDs derive
 * from run and address, so every attempt of a delivery carries the same one.
 */
export async function insertDeliveries(
  db: Db,
  run: { id: string; campaignId: string },
  who: { audience: postgres.PendingQuery<postgres.Row[]> } | { emails: string[] },
  messageDomain: string,
  now: Date,
): Promise<{ written: number; skipped: number }> {
  const source = "audience" in who
    ? db`select u.email as email, lower(u.email) as email_key, u.id::text as user_id
         from (${who.audience}) a join users u on u.id::text = a.user_id`
    : db`select e as email, lower(e) as email_key, (select id::text from users where lower(email) = lower(e)) as user_id
         from unnest(${who.emails}::text[]) e`;
  // Counted in SQL: a big audience's rows do not come back to this process.
  const [counts] = await db<{ written: number; skipped: number }[]>`
    with r as (${source}), written as (
    insert into campaign_deliveries
      (id, run_id, campaign_id, email, email_key, user_id, state, skip_reason, message_id, updated_at)
    select gen_random_uuid(), ${run.id}, ${run.campaignId}, r.email, r.email_key, r.user_id,
      case when why.reason is null then 'pending' else 'skipped' end, coalesce(why.reason, ''),
      '<' || ${run.id} || '.' || md5(r.email_key) || '@' || ${messageDomain} || '>', ${now}
    from r
      left join users u on u.id::text = r.user_id
      left join campaign_suppressions s on s.email_key = r.email_key
      cross join lateral (select ${skipReasonSql(db)} as reason) why
    on conflict (run_id, email_key) do nothing
    returning state)
    select count(*)::int as written, (count(*) filter (where state = 'skipped'))::int as skipped from written`;
  return counts;
}

export interface Candidate extends DeliveryRow {
  /** Why it must be skipped now (suppression re-checked at claim), or null. */
  reason: string | null;
  display_name: string | null;
}

/** Up to `limit` pending rows of a run, in address order, with their suppression checked now. */
export async function selectPending(db: Db, runId: string, limit: number): Promise<Candidate[]> {
  return await db<Candidate[]>`
    select d.*, ${skipReasonSql(db)} as reason, u.display_name
    from campaign_deliveries d
      left join users u on u.id::text = d.user_id
      left join campaign_suppressions s on s.email_key = d.email_key
    where d.run_id = ${runId} and d.state = 'pending'
    order by d.email_key limit ${limit}`;
}

/** Skips claimable rows with their reasons; how many it moved. */
export async function skipDeliveries(db: Db, ids: string[], reasons: string[], now: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const moved = await db`
    update campaign_deliveries d set state = 'skipped', skip_reason = x.reason, updated_at = ${now}
    from unnest(${ids}::uuid[], ${reasons}::text[]) as x (id, reason)
    where d.id = x.id and d.state in ('pending', 'claimed')`;
  return moved.count;
}

/**
 * Marks handed-over rows claimed with their task and item. A row whose task already
 * finished (its event came first) keeps its state but still gets its task and item, so
 * "never sent this item before" sees it.
 */
export async function claimDeliveries(
  db: Db,
  claims: { id: string; taskId: string; itemId: string | null }[],
  now: Date,
): Promise<void> {
  if (claims.length === 0) return;
  await db`
    update campaign_deliveries d set state = case when d.state = 'pending' then 'claimed' else d.state end,
      task_id = x.task_id, content_item_id = x.item_id, updated_at = ${now}
    from unnest(${claims.map((c) => c.id)}::uuid[], ${claims.map((c) => c.taskId)}::uuid[],
      ${claims.map((c) => c.itemId)}::uuid[]) as x (id, task_id, item_id)
    where d.id = x.id and (d.state = 'pending' or d.task_id is null)`;
}

export type Outcome =
  | { kind: "sent"; attempts: number }
  | { kind: "failed"; attempts: number; error: string }
  | { kind: "retrying"; attempts: number; error: string }
  | { kind: "cancelled" };

/** Applies what became of a delivery's task; the row (if it moved) with its campaign. */
export async function applyOutcome(db: Db, id: string, outcome: Outcome, now: Date) {
  const [row] = outcome.kind === "sent"
    ? await db<DeliveryRow[]>`
      update campaign_deliveries set state = 'sent', sent_at = ${now}, attempts = ${outcome.attempts},
        updated_at = ${now}
      where id = ${id} and state in ('pending', 'claimed') returning *`
    : outcome.kind === "failed"
    ? await db<DeliveryRow[]>`
      update campaign_deliveries set state = 'failed', attempts = ${outcome.attempts},
        last_error = ${outcome.error.slice(0, 1000)}, updated_at = ${now}
      where id = ${id} and state in ('pending', 'claimed') returning *`
    : outcome.kind === "retrying"
    ? await db<DeliveryRow[]>`
      update campaign_deliveries set attempts = ${outcome.attempts}, last_error = ${
      outcome.error.slice(0, 1000)
    }
      where id = ${id} and state in ('pending', 'claimed') returning *`
    : await db<DeliveryRow[]>`
      update campaign_deliveries set state = 'skipped', skip_reason = 'cancelled', updated_at = ${now}
      where id = ${id} and state in ('pending', 'claimed') returning *`;
  return row as DeliveryRow | undefined;
}

/**
 * Moves many deliveries to sent at once (their tasks succeeded; each with its attempts and
 * time): one statement for a batch instead of one a mail. Guarded as applyOutcome is; the
 * rows it moved.
 */
export async function applySent(db: Db, sent: { id: string; attempts: number; at: Date }[]) {
  if (sent.length === 0) return [];
  return await db<{ id: string; run_id: string }[]>`
    update campaign_deliveries d set state = 'sent', sent_at = x.at, attempts = x.attempts, updated_at = x.at
    from unnest(${sent.map((s) => s.id)}::uuid[], ${sent.map((s) => s.attempts)}::int[],
      ${sent.map((s) => s.at.toISOString())}::timestamptz[]) as x (id, attempts, at)
    where d.id = x.id and d.state in ('pending', 'claimed')
    returning d.id, d.run_id`;
}

/** Claimed rows not updated since `before`: their task events may have been missed. */
export async function selectStaleClaims(db: Db, before: Date, limit: number) {
  return await db<{ id: string; task_id: string }[]>`
    select id, task_id from campaign_deliveries
    where state = 'claimed' and updated_at < ${before} order by updated_at limit ${limit}`;
}

/** Touches claimed rows whose task is still going, so the next sweep skips them a while. */
export async function touchClaims(db: Db, ids: string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await db`update campaign_deliveries set updated_at = ${now} where id = any(${ids}::uuid[]) and state = 'claimed'`;
}

export interface RunCounts {
  pending: number;
  claimed: number;
  sent: number;
  failed: number;
  skipped: number;
  /** Sent or failed in the last minute. */
  recent: number;
}

/** What the dispatcher needs on every pass, from the index alone. */
export async function runProgress(db: Db, runId: string) {
  const [row] = await db<{ claimed: number; pending: boolean; started: boolean }[]>`
    select
      (select count(*) from campaign_deliveries where run_id = ${runId} and state = 'claimed')::int as claimed,
      exists(select 1 from campaign_deliveries where run_id = ${runId} and state = 'pending') as pending,
      exists(select 1 from campaign_deliveries where run_id = ${runId} and state in ('sent', 'failed')) as started`;
  return row;
}

export async function countRun(db: Db, runId: string, now: Date): Promise<RunCounts> {
  const [row] = await db<Record<keyof RunCounts, string>[]>`
    select
      count(*) filter (where state = 'pending') as pending,
      count(*) filter (where state = 'claimed') as claimed,
      count(*) filter (where state = 'sent') as sent,
      count(*) filter (where state = 'failed') as failed,
      count(*) filter (where state = 'skipped') as skipped,
      count(*) filter (where state in ('sent', 'failed') and updated_at > ${new Date(now.getTime() - 60_000)})
        as recent
    from campaign_deliveries where run_id = ${runId}`;
  return {
    pending: Number(row.pending),
    claimed: Number(row.claimed),
    sent: Number(row.sent),
    failed: Number(row.failed),
    skipped: Number(row.skipped),
    recent: Number(row.recent),
  };
}

/**
 * Cancel: skips a run's pending rows, and says how many; claimed ones stay claimed until
 * their mail's task ends.
 */
export async function skipPending(db: Db, runId: string, now: Date): Promise<number> {
  const moved = await db`
    update campaign_deliveries set state = 'skipped', skip_reason = 'cancelled', updated_at = ${now}
    where run_id = ${runId} and state = 'pending'`;
  return moved.count;
}

export async function listDeliveries(
  db: Db,
  runId: string,
  state: DeliveryStateWord | null,
  failuresFirst: boolean,
  after: [number, string] | null,
  limit: number,
) {
  const rank = failuresFirst ? db`(case when d.state = 'failed' then 0 else 1 end)` : db`0`;
  return await db<(DeliveryRow & { rank: number; run_time: Date })[]>`
    select d.*, ${rank} as rank, r.run_time from campaign_deliveries d join campaign_runs r on r.id = d.run_id
    where d.run_id = ${runId} ${state ? db`and d.state = ${state}` : db``}
      and (${rank}, d.email_key) > (${after?.[0] ?? -1}, ${after?.[1] ?? ""})
    order by rank, d.email_key limit ${limit + 1}`;
}

export async function suppress(db: Db, emailKey: string, reason: "unsubscribed" | "hard_bounced", now: Date) {
  await db`
    insert into campaign_suppressions (email_key, reason, created_at) values (${emailKey}, ${reason}, ${now})
    on conflict (email_key) do nothing`;
}
