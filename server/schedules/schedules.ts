/**
 * The schedules of a process: the one place that changes them (RPCs through
 * schedule_service.ts, other server modules in-process, e.g. a recurring campaign that
 * owns its schedule through an `owner` label) and the scheduler loop that fires them.
 * Tasks are made only through the task engine (runtime.ts).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import { decodePageToken, encodePageToken } from "../kit/paging.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import { TypeDefaultsCache } from "../tasks/type_defaults.ts";
import { fireJobs, recordFires } from "./_fire.ts";
import { type ScheduleInit, toDefinition } from "./definition.ts";
import type { Fire, ScheduleDefinition, ScheduleRecord } from "./model.ts";
import { MAX_SCHEDULES } from "./model.ts";
import { planOverlap } from "./plan.ts";
import { previousOf, Scheduler } from "./scheduler.ts";
import * as q from "./schedule_queries.ts";
import { nextFireAt } from "./timing.ts";

export type { ScheduleInit };

/** The label naming what owns a schedule, e.g. owner=campaign:<id>. */
export const OWNER_LABEL = "owner";

function notFound(id: string): ConnectError {
  return new ConnectError(`schedule ${id} does not exist: list schedules to find its id`, Code.NotFound);
}

function uniqueName(error: unknown, name: string): never {
  if ((error as { code?: string }).code === "23505") {
    throw new ConnectError(
      `schedule.name ${JSON.stringify(name)} is taken: choose another name`,
      Code.AlreadyExists,
    );
  }
  throw error;
}

/** The first tick a definition waits for: a one-shot keeps its time even when past (catch-up decides). */
function firstTick(def: ScheduleDefinition, now: number): number | null {
  if (def.timing.kind === "once") return nextFireAt(def, Math.min(now, def.timing.at));
  return nextFireAt(def, now);
}

export class Schedules {
  readonly scheduler: Scheduler;
  readonly #defaults: TypeDefaultsCache;

  constructor(readonly sql: Sql, readonly rt: TasksRuntime, log: Logger, pollMs: number) {
    this.#defaults = new TypeDefaultsCache((after, limit) => rt.typeDefaults(after, limit), rt.clock);
    this.scheduler = new Scheduler(
      sql,
      rt,
      this.#defaults,
      rt.clock,
      log.child({ component: "schedules" }),
      pollMs,
    );
  }

  get #now(): number {
    return this.rt.clock.now();
  }

  start(): void {
    this.scheduler.start();
  }

  stop(): Promise<void> {
    return this.scheduler.stop();
  }

  async create(init: ScheduleInit): Promise<ScheduleRecord> {
    const now = this.#now;
    const def = toDefinition(init, now);
    const [{ n }] = await this.sql<{ n: number }[]>`select count(*)::int as n from schedules`;
    if (n >= MAX_SCHEDULES) {
      throw new ConnectError(`there are ${n} schedules, the most: delete some first`, Code.ResourceExhausted);
    }
    const id = crypto.randomUUID();
    await q.insertSchedule(this.sql, id, def, firstTick(def, now), now).catch((e) => uniqueName(e, def.name));
    // Read before waking the scheduler: the answer is the schedule as created, its first tick
    // included, not what a fire that the kick may start at once has made of it.
    const created = await this.get(id);
    this.scheduler.kick();
    return created;
  }

  /** Replaces the definition; the next tick is computed anew from now, paused state and fires stay. */
  async update(id: string, init: ScheduleInit): Promise<ScheduleRecord> {
    const now = this.#now;
    const def = toDefinition(init, now);
    const found = await q.updateDefinition(this.sql, id, def, firstTick(def, now), now)
      .catch((e) => uniqueName(e, def.name));
    if (!found) throw notFound(id);
    const updated = await this.get(id);
    this.scheduler.kick();
    return updated;
  }

  async pause(id: string, note: string): Promise<ScheduleRecord> {
    if (!await q.setPaused(this.sql, id, true, note, this.#now)) throw notFound(id);
    return await this.get(id);
  }

  /** Resumes; ticks missed while paused follow the catch-up policy. */
  async resume(id: string): Promise<ScheduleRecord> {
    if (!await q.setPaused(this.sql, id, false, "", this.#now)) throw notFound(id);
    const resumed = await this.get(id);
    this.scheduler.kick();
    return resumed;
  }

  /** Deletes a schedule and its fire history; tasks it fired are unaffected. */
  async delete(id: string): Promise<void> {
    if (!await q.deleteSchedule(this.sql, id)) throw notFound(id);
  }

  async get(id: string): Promise<ScheduleRecord> {
    const row = await q.selectSchedule(this.sql, id);
    if (!row) throw notFound(id);
    return q.toSchedule(row);
  }

  /** A page of schedules by name. */
  async list(
    filter: q.ScheduleFilter,
    size: number,
    pageToken: string,
  ): Promise<{ items: ScheduleRecord[]; nextPageToken: string }> {
    const query = { list: "schedules", filters: filter };
    const after = (decodePageToken(pageToken, query, ["text"])?.[0] as string | undefined) ?? "";
    const rows = await q.listSchedules(this.sql, filter, after, size + 1);
    const items = rows.slice(0, size).map(q.toSchedule);
    return {
      items,
      nextPageToken: rows.length > size ? encodePageToken(query, [items.at(-1)!.name]) : "",
    };
  }

  /** A page of a schedule's fires, newest first. */
  async fires(
    id: string,
    size: number,
    pageToken: string,
  ): Promise<{ items: Fire[]; nextPageToken: string }> {
    await this.get(id);
    const query = { list: "schedule_fires", filters: { id } };
    const pos = decodePageToken(pageToken, query, ["int", "int", "int"]) as number[] | undefined;
    const before = pos && { firedAt: pos[0], tickAt: pos[1], manual: pos[2] === 1 };
    const rows = await q.listFires(this.sql, id, before, size + 1);
    const items = rows.slice(0, size);
    const last = items.at(-1);
    return {
      items,
      nextPageToken: rows.length > size && last
        ? encodePageToken(query, [last.firedAt, last.tickAt, last.manual ? 1 : 0])
        : "",
    };
  }

  /** Fires a schedule now, outside its ticks; its overlap policy applies. */
  async trigger(id: string): Promise<Fire> {
    const row = await q.selectSchedule(this.sql, id);
    if (!row) throw notFound(id);
    const schedule = q.toSchedule(row);
    const now = this.#now;
    // Two triggers within a millisecond are still two fires, each with its own key.
    const tick = Math.max(now, (await q.selectLastManualTick(this.sql, id) ?? -1) + 1);
    const plans = planOverlap(schedule.overlap, [tick], previousOf(schedule));
    const result = await fireJobs(this.rt, this.#defaults, [{
      schedule,
      plans,
      manual: true,
      claimedUntil: null,
    }]);
    await recordFires(this.sql, result, now);
    const fire = result.fires[0];
    const task = fire.taskId ? await this.rt.get(fire.taskId) : undefined;
    return { ...fire, taskState: task?.task.state ?? null };
  }

  // --- for other server modules: schedules an owner keeps ----------------------------

  /** The schedules carrying owner=<owner>, e.g. "campaign:<id>". */
  async ownedBy(owner: string): Promise<ScheduleRecord[]> {
    const rows = await q.listSchedules(this.sql, { labels: { [OWNER_LABEL]: owner } }, "", 1000);
    return rows.map(q.toSchedule);
  }

  /** Creates the owner's schedule of this name, or replaces its definition when it exists. */
  async upsertOwned(owner: string, init: ScheduleInit): Promise<ScheduleRecord> {
    const labeled = { ...init, labels: { ...init.labels, [OWNER_LABEL]: owner } };
    const existing = (await this.ownedBy(owner)).find((s) => s.name === init.name);
    return existing ? await this.update(existing.id, labeled) : await this.create(labeled);
  }

  /** Deletes every schedule the owner has; returns how many. */
  async deleteOwned(owner: string): Promise<number> {
    const owned = await this.ownedBy(owner);
    for (const s of owned) await q.deleteSchedule(this.sql, s.id);
    return owned.length;
  }
}
