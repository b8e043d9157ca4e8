/**
 * The scheduler loop owns firing: it takes the due schedules no other instance holds
 * (`for update skip locked`), fires their ticks through the task engine (_fire.ts) and
 * moves them on, then sleeps until the next tick is due (at most `pollMs`, so schedules
 * made on other instances are seen), on the injected clock. Any number of instances run
 * it; each tick's idempotency key keeps a race, a crash or a retry from firing it twice.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import { type Logger, rateLimitedLogger } from "../log.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { TypeDefaultsCache } from "../tasks/type_defaults.ts";
import { type FireJob, fireJobs } from "./_fire.ts";
import { dueTicks, planOverlap, type Previous } from "./plan.ts";
import type { ScheduleRecord } from "./model.ts";
import {
  advanceSchedules,
  type Db,
  pruneFires,
  selectDueForUpdate,
  selectNextDue,
  toSchedule,
} from "./schedule_queries.ts";

/** Schedules fired in one transaction. */
const BATCH = 500;
/** The shortest sleep, so a loop whose due rows another instance holds does not spin. */
const MIN_SLEEP_MS = 20;
/** Fires are kept this long for ListScheduleFires; the tasks themselves are not touched. */
export const FIRE_RETENTION_MS = 30 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

export function previousOf(s: ScheduleRecord & { lastTaskState: string | null }): Previous {
  return s.lastTaskId ? { kind: "task", id: s.lastTaskId, state: s.lastTaskState } : { kind: "none" };
}

export class Scheduler {
  readonly name = "scheduler";
  readonly #log: Logger;
  #stop?: AbortController;
  #wake?: AbortController;
  #done?: Promise<void>;
  #prunedAt = 0;

  constructor(
    readonly sql: Sql,
    readonly rt: TasksRuntime,
    readonly defaults: TypeDefaultsCache,
    readonly clock: Clock,
    log: Logger,
    readonly pollMs: number,
  ) {
    this.#log = rateLimitedLogger(log.child({ loop: this.name }), 60_000, () => clock.now());
  }

  start(signal?: AbortSignal): void {
    if (this.#done) return;
    const stop = this.#stop = new AbortController();
    signal?.addEventListener("abort", () => stop.abort(), { once: true });
    this.#done = (async () => {
      while (!stop.signal.aborted) {
        const started = this.clock.now();
        let wakeAt = started + this.pollMs;
        let idle = false;
        try {
          const fired = await this.runOnce();
          const nextDue = await selectNextDue(this.sql);
          if (nextDue !== null) wakeAt = Math.min(wakeAt, nextDue);
          // Due but fired nothing: another instance holds those schedules right now.
          idle = fired === 0 && nextDue !== null && nextDue <= this.clock.now();
        } catch (error) {
          if (stop.signal.aborted) break;
          this.#log.error("scheduler iteration failed; retrying after the poll interval", { error });
          wakeAt = this.clock.now() + this.pollMs;
        }
        // Reckoned from the clock right before sleeping: time that passed during the iteration counts.
        const wait = idle ? MIN_SLEEP_MS : wakeAt - this.clock.now();
        if (wait <= 0) continue;
        this.#wake = new AbortController();
        await this.clock.sleep(wait, AbortSignal.any([stop.signal, this.#wake.signal])).catch(() => {});
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#done;
    this.#done = undefined;
  }

  /** Runs an iteration now (a schedule made or resumed here may be due at once). */
  kick(): void {
    this.#wake?.abort();
  }

  /** Fires every due schedule this instance can take; returns how many schedules it fired. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.sql.begin((tx) => this.#fireBatch(tx));
      total += n;
      if (n < BATCH) break;
    }
    const now = this.clock.now();
    if (now - this.#prunedAt > PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      await pruneFires(this.sql, now - FIRE_RETENTION_MS);
    }
    return total;
  }

  async #fireBatch(tx: Db): Promise<number> {
    const now = this.clock.now();
    const rows = await selectDueForUpdate(tx, now, BATCH);
    const jobs: FireJob[] = rows.map((row) => {
      const schedule = toSchedule(row);
      const { ticks, next } = dueTicks(schedule, schedule.nextFireAt!, now);
      return {
        schedule,
        plans: planOverlap(schedule.overlap, ticks, previousOf(schedule)),
        manual: false,
        next,
      };
    });
    const { advances } = await fireJobs(tx, this.rt, this.defaults, jobs);
    await advanceSchedules(tx, advances, now);
    return rows.length;
  }
}
