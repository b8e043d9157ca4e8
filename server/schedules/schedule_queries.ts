/**
 * SQL of schedules and their fires. Schedules are read with their last fire and that
 * fire's task state. The scheduler claims due schedules in a short transaction (`for
 * update skip locked`, so instances share the work), writing the ticks it is about to fire;
 * it fires them through the engine with no transaction open, then finishes its claim. A
 * tick's fence (its task's idempotency key, and the schedule_fires key) settles any race
 * that remains, such as a claim taken over after its instance died.
 */
import type postgres from "postgres";
import type { Fire, FireOutcome, ScheduleDefinition, ScheduleRecord, Timing } from "./model.ts";

export type Db = postgres.ISql;

/** A schedule row as the queries below select it. */
export interface ScheduleRow {
  id: string;
  name: string;
  cron: string | null;
  time_zone: string;
  interval_ms: string | number | null;
  anchor_at: Date | null;
  once_at: Date | null;
  start_at: Date | null;
  end_at: Date | null;
  jitter_ms: string | number;
  task_spec: Uint8Array;
  overlap: ScheduleRecord["overlap"];
  catch_up: ScheduleRecord["catchUp"];
  catch_up_window_ms: string | number;
  catch_up_limit: number;
  labels: Record<string, string>;
  paused: boolean;
  pause_note: string;
  next_fire_at: Date | null;
  last_fire_at: Date | null;
  last_task_id: string | null;
  claimed_until: Date | null;
  pending_ticks: number[];
  created_at: Date;
  updated_at: Date;
  /** The state of last_task_id's task now (null when none or purged). */
  last_task_state: string | null;
  lf_tick_at: Date | null;
  lf_manual: boolean | null;
  lf_fired_at: Date | null;
  lf_task_id: string | null;
  lf_outcome: FireOutcome | null;
  lf_message: string | null;
  lf_task_state: string | null;
}

const ms = (d: Date | null) => d === null ? null : d.getTime();

function timingOf(r: ScheduleRow): Timing {
  if (r.cron !== null) return { kind: "cron", cron: r.cron, timeZone: r.time_zone };
  if (r.interval_ms !== null) {
    return { kind: "interval", intervalMs: Number(r.interval_ms), anchorAt: ms(r.anchor_at) ?? 0 };
  }
  return { kind: "once", at: ms(r.once_at)! };
}

export function toSchedule(r: ScheduleRow): ScheduleRecord & { lastTaskState: string | null } {
  return {
    id: r.id,
    name: r.name,
    timing: timingOf(r),
    startAt: ms(r.start_at),
    endAt: ms(r.end_at),
    jitterMs: Number(r.jitter_ms),
    taskSpec: new Uint8Array(r.task_spec),
    overlap: r.overlap,
    catchUp: r.catch_up,
    catchUpWindowMs: Number(r.catch_up_window_ms),
    catchUpLimit: r.catch_up_limit,
    labels: r.labels,
    paused: r.paused,
    pauseNote: r.pause_note,
    nextFireAt: ms(r.next_fire_at),
    lastFireAt: ms(r.last_fire_at),
    lastTaskId: r.last_task_id,
    claimedUntil: r.claimed_until === null ? null : r.claimed_until.getTime(),
    pendingTicks: r.pending_ticks.map(Number),
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
    lastTaskState: r.last_task_state,
    lastFire: r.lf_tick_at === null ? null : {
      scheduleId: r.id,
      tickAt: r.lf_tick_at.getTime(),
      manual: r.lf_manual ?? false,
      firedAt: ms(r.lf_fired_at)!,
      taskId: r.lf_task_id,
      outcome: r.lf_outcome!,
      message: r.lf_message ?? "",
      taskState: r.lf_task_state,
    },
  };
}

function definitionColumns(def: ScheduleDefinition, nextFireAt: number | null, now: number) {
  const t = def.timing;
  const date = (v: number | null) => v === null ? null : new Date(v);
  return {
    name: def.name,
    cron: t.kind === "cron" ? t.cron : null,
    time_zone: t.kind === "cron" ? t.timeZone : "UTC",
    interval_ms: t.kind === "interval" ? t.intervalMs : null,
    anchor_at: t.kind === "interval" ? new Date(t.anchorAt) : null,
    once_at: t.kind === "once" ? new Date(t.at) : null,
    start_at: date(def.startAt),
    end_at: date(def.endAt),
    jitter_ms: def.jitterMs,
    task_spec: def.taskSpec,
    overlap: def.overlap,
    catch_up: def.catchUp,
    catch_up_window_ms: def.catchUpWindowMs,
    catch_up_limit: def.catchUpLimit,
    labels: def.labels,
    next_fire_at: date(nextFireAt),
    updated_at: new Date(now),
  };
}

/** The select list: a schedule, its last task's state and its last fire with that fire's task state. */
function selectFull(db: Db) {
  return db`
    select s.*, lt.state as last_task_state,
      lf.tick_at as lf_tick_at, lf.manual as lf_manual, lf.fired_at as lf_fired_at,
      lf.task_id as lf_task_id, lf.outcome as lf_outcome, lf.message as lf_message,
      lft.state as lf_task_state
    from schedules s
    left join tasks lt on lt.id = s.last_task_id
    left join lateral (
      select * from schedule_fires f where f.schedule_id = s.id
      order by f.fired_at desc, f.tick_at desc, f.manual desc limit 1
    ) lf on true
    left join tasks lft on lft.id = lf.task_id`;
}

export async function insertSchedule(
  db: Db,
  id: string,
  def: ScheduleDefinition,
  nextFireAt: number | null,
  now: number,
): Promise<void> {
  const row = { id, ...definitionColumns(def, nextFireAt, now), created_at: new Date(now) };
  // jsonb: postgres.js would send the object as text otherwise.
  await db`insert into schedules ${db({ ...row, labels: db.json(def.labels) })}`;
}

/** Replaces a schedule's definition; false when it does not exist. */
export async function updateDefinition(
  db: Db,
  id: string,
  def: ScheduleDefinition,
  nextFireAt: number | null,
  now: number,
): Promise<boolean> {
  const cols = { ...definitionColumns(def, nextFireAt, now), labels: db.json(def.labels) };
  const rows = await db`update schedules set ${db(cols)} where id = ${id} returning id`;
  return rows.length === 1;
}

export async function setPaused(db: Db, id: string, paused: boolean, note: string, now: number) {
  const rows = await db`
    update schedules set paused = ${paused}, pause_note = ${paused ? note : ""}, updated_at = ${new Date(now)}
    where id = ${id} returning id`;
  return rows.length === 1;
}

export async function deleteSchedule(db: Db, id: string): Promise<boolean> {
  return (await db`delete from schedules where id = ${id} returning id`).length === 1;
}

export async function selectSchedule(db: Db, id: string): Promise<ScheduleRow | undefined> {
  const [row] = await db<ScheduleRow[]>`${selectFull(db)} where s.id = ${id}`;
  return row;
}

export interface ScheduleFilter {
  paused?: boolean;
  labels?: Record<string, string>;
}

/** A page of schedules by name after `afterName`. */
export async function listSchedules(
  db: Db,
  filter: ScheduleFilter,
  afterName: string,
  limit: number,
): Promise<ScheduleRow[]> {
  const paused = filter.paused === undefined ? db`` : db`and s.paused = ${filter.paused}`;
  const labels = filter.labels && Object.keys(filter.labels).length > 0
    ? db`and s.labels @> ${db.json(filter.labels)}`
    : db``;
  return await db<ScheduleRow[]>`
    ${selectFull(db)} where s.name > ${afterName} ${paused} ${labels}
    order by s.name limit ${limit}`;
}

/**
 * Due schedules no live claim holds (none, or one past its time: its instance died), locked
 * until the transaction ends. Claim them with claimSchedules in the same transaction.
 */
export async function selectClaimable(db: Db, now: number, limit: number): Promise<ScheduleRow[]> {
  const at = new Date(now);
  return await db<ScheduleRow[]>`
    select s.*, lt.state as last_task_state, null as lf_tick_at
    from schedules s left join tasks lt on lt.id = s.last_task_id
    where not s.paused and (
      (s.claimed_until is null and s.next_fire_at <= ${at}) or s.claimed_until <= ${at}
    )
    order by least(s.next_fire_at, s.claimed_until) limit ${limit}
    for update of s skip locked`;
}

export interface Claim {
  id: string;
  /** The ticks the claimant fires, epoch milliseconds. */
  pending: number[];
  nextFireAt: number | null;
  claimedUntil: number;
  /** The claiming instance. */
  by: string;
}

/** Claims schedules: their ticks are written down and their next tick moved on before any fires. */
export async function claimSchedules(db: Db, claims: Claim[]): Promise<void> {
  if (claims.length === 0) return;
  const rows = claims.map((c) => ({
    id: c.id,
    pending: c.pending,
    next: c.nextFireAt === null ? null : new Date(c.nextFireAt).toISOString(),
    until: new Date(c.claimedUntil).toISOString(),
    by: c.by,
  }));
  await db`
    update schedules s
    set pending_ticks = a.pending, next_fire_at = a.next, claimed_until = a.until, claimed_by = a.by
    from jsonb_to_recordset(${db.json(rows)})
      as a(id uuid, pending jsonb, next timestamptz, until timestamptz, by text)
    where s.id = a.id`;
}

/** A fire as recorded: its task's state is joined in when fires are read. */
export type FireInsert = Omit<Fire, "taskState">;

/** Records fires; a tick already recorded (by another instance, before a crash) is kept as it was. */
export async function insertFires(db: Db, fires: FireInsert[]): Promise<void> {
  if (fires.length === 0) return;
  await db`
    insert into schedule_fires ${
    db(fires.map((f) => ({
      schedule_id: f.scheduleId,
      tick_at: new Date(f.tickAt),
      manual: f.manual,
      fired_at: new Date(f.firedAt),
      task_id: f.taskId,
      outcome: f.outcome,
      message: f.message,
    })))
  }
    on conflict (schedule_id, tick_at, manual) do nothing`;
}

export interface Advance {
  id: string;
  lastFireAt: number | null;
  lastTaskId: string | null;
  /** The claim being finished; null for a trigger, which claims nothing. */
  claimedUntil: number | null;
}

/** Ends claims (only those still this instance's) and records each schedule's last fire. */
export async function finishClaims(db: Db, advances: Advance[], now: number): Promise<void> {
  if (advances.length === 0) return;
  const at = (v: number | null) => v === null ? null : new Date(v).toISOString();
  const rows = advances.map((a) => ({
    id: a.id,
    last_fire_at: at(a.lastFireAt),
    last_task_id: a.lastTaskId,
    claimed_until: at(a.claimedUntil),
  }));
  await db`
    update schedules s set
      claimed_until = case when a.claimed_until is null then s.claimed_until end,
      claimed_by = case when a.claimed_until is null then s.claimed_by end,
      pending_ticks = case when a.claimed_until is null then s.pending_ticks else '[]' end,
      last_fire_at = greatest(a.last_fire_at, s.last_fire_at),
      last_task_id = coalesce(a.last_task_id, s.last_task_id),
      updated_at = ${new Date(now)}
    from jsonb_to_recordset(${db.json(rows)})
      as a(id uuid, last_fire_at timestamptz, last_task_id uuid, claimed_until timestamptz)
    where s.id = a.id and (a.claimed_until is null or s.claimed_until = a.claimed_until)`;
}

/** A schedule's fires, newest first, after a (fired_at, tick_at, manual) position. */
export async function listFires(
  db: Db,
  scheduleId: string,
  before: { firedAt: number; tickAt: number; manual: boolean } | undefined,
  limit: number,
): Promise<Fire[]> {
  const after = before
    ? db`and (f.fired_at, f.tick_at, f.manual) < (${new Date(before.firedAt)}, ${new Date(
      before.tickAt,
    )}, ${before.manual})`
    : db``;
  const rows = await db<
    (Omit<FireInsert, "tickAt" | "firedAt"> & { tick_at: Date; fired_at: Date; state: string | null })[]
  >`
    select f.tick_at, f.manual, f.fired_at, f.task_id as "taskId", f.outcome, f.message, t.state
    from schedule_fires f left join tasks t on t.id = f.task_id
    where f.schedule_id = ${scheduleId} ${after}
    order by f.fired_at desc, f.tick_at desc, f.manual desc limit ${limit}`;
  return rows.map((r) => ({
    scheduleId,
    tickAt: r.tick_at.getTime(),
    manual: r.manual,
    firedAt: r.fired_at.getTime(),
    taskId: r.taskId,
    outcome: r.outcome,
    message: r.message,
    taskState: r.state,
  }));
}

/** Forgets fires older than `before`; the tasks they made are unaffected. */
export async function pruneFires(db: Db, before: number): Promise<number> {
  return (await db`delete from schedule_fires where fired_at < ${new Date(before)}`).count;
}

/**
 * The earliest time any active schedule can be claimed (selectClaimable): its next tick, or the
 * end of a claim that holds it (a claimant that died leaves its ticks to fire then); null when
 * none is left. Not a claimed schedule's next tick: the other instances would poll it at once.
 */
export async function selectNextDue(db: Db): Promise<number | null> {
  const [row] = await db<
    { at: Date | null }[]
  >`select min(coalesce(claimed_until, next_fire_at)) as at from schedules where not paused`;
  return row?.at?.getTime() ?? null;
}

/** The tick of a schedule's latest TriggerSchedule fire. */
export async function selectLastManualTick(db: Db, scheduleId: string): Promise<number | null> {
  const [row] = await db<{ at: Date | null }[]>`
    select max(tick_at) as at from schedule_fires where schedule_id = ${scheduleId} and manual`;
  return row?.at?.getTime() ?? null;
}
