/**
 * The scheduler loop owns firing. Each iteration claims the due schedules no other
 * instance holds (a short transaction: their ticks written down, their next tick moved
 * on), fires those ticks through the task engine with no transaction open (_fire.ts), and
 * records the fires, ending the claims; then it sleeps until the next tick is due (at most
 * `pollMs`, so schedules made on other instances are seen), on the injected clock. It runs
 * on startLoop (server/loop.ts), as the other background loops do, returning that wait as a
 * NextRun; kicks and failures are the loop's. Any number of instances run it. A claim whose
 * instance died passes after CLAIM_MS and its ticks fire again elsewhere; each tick's
 * idempotency key keeps that, a race or a retry from enqueueing it twice.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import { type Loop, NextRun, startLoop } from "../loop.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { TypeDefaultsCache } from "../tasks/type_defaults.ts";
import { type FireJob, fireJobs, recordFires } from "./_fire.ts";
import { dueTicks, planOverlap, type Previous } from "./plan.ts";
import type { ScheduleRecord } from "./model.ts";
import {
  type Claim,
  claimSchedules,
  pruneFires,
  selectClaimable,
  selectNextDue,
  toSchedule,
} from "./schedule_queries.ts";

/** Schedules claimed at once. */
const BATCH = 500;
/** How long a claim holds a schedule: past it, the instance is taken for dead and another fires its ticks. */
export const CLAIM_MS = 15_000;
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
  #loop?: Loop;
  #prunedAt = 0;
  /** The time the last claim looked for due schedules (the injected clock's). */
  #claimedAt = 0;

  constructor(
    readonly sql: Sql,
    readonly rt: TasksRuntime,
    readonly defaults: TypeDefaultsCache,
    readonly clock: Clock,
    readonly log: Logger,
    readonly pollMs: number,
  ) {}

  /** Runs the loop (server/loop.ts): a failed iteration is logged and retried after `pollMs`. */
  start(signal?: AbortSignal): void {
    if (this.#loop) return;
    const loop = this.#loop = startLoop(
      this.name,
      { intervalMs: this.pollMs, clock: this.clock, log: this.log },
      () => this.#iterate(),
    );
    signal?.addEventListener("abort", () => void loop.stop(), { once: true });
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    this.#loop = undefined;
  }

  /**
   * Runs an iteration now (a schedule made or resumed here may be due at once). A kick while
   * an iteration runs makes the loop go round again instead of sleeping: that iteration may
   * have read the schedules before the change that kicked it.
   */
  kick(): void {
    this.#loop?.kick();
  }

  /** Fires what is due, then says when to look again: at the next due tick, at most `pollMs` on. */
  async #iterate(): Promise<NextRun> {
    const wakeAt = this.clock.now() + this.pollMs;
    const fired = await this.runOnce();
    const nextDue = await selectNextDue(this.sql);
    // Due when the claim looked, yet fired nothing: another instance holds those schedules right
    // now. Due only since (the clock moved during the iteration) is not that: the wait is then not
    // positive and the next iteration claims it at once.
    if (fired === 0 && nextDue !== null && nextDue <= this.#claimedAt) return NextRun.after(MIN_SLEEP_MS);
    return NextRun.at(nextDue === null ? wakeAt : Math.min(wakeAt, nextDue));
  }

  /** Fires every due schedule this instance can take; returns how many schedules it fired. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.clock.now();
      this.#claimedAt = now;
      const jobs = await this.claim(now);
      if (jobs.length === 0) break;
      await recordFires(this.sql, await fireJobs(this.rt, this.defaults, jobs), this.clock.now());
      total += jobs.length;
      if (jobs.length < BATCH) break;
    }
    const now = this.clock.now();
    if (now - this.#prunedAt > PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      await pruneFires(this.sql, now - FIRE_RETENTION_MS);
    }
    return total;
  }

  /**
   * Claims due schedules in one short transaction and returns what to fire: the ticks due
   * by the catch-up policy, and those of a claim whose instance died (fired again, the same
   * keys). The claims hold for CLAIM_MS.
   */
  async claim(now: number): Promise<FireJob[]> {
    return await this.sql.begin(async (tx) => {
      const claimedUntil = now + CLAIM_MS;
      const claims: Claim[] = [];
      const jobs: FireJob[] = [];
      for (const row of await selectClaimable(tx, now, BATCH)) {
        const schedule = toSchedule(row);
        const takenOver = schedule.claimedUntil !== null;
        const inherited = takenOver ? schedule.pendingTicks : [];
        const due = schedule.nextFireAt !== null && schedule.nextFireAt <= now
          ? dueTicks(schedule, schedule.nextFireAt, now, takenOver)
          : { ticks: [], next: schedule.nextFireAt };
        const ticks = [...new Set([...inherited, ...due.ticks])].sort((a, b) => a - b);
        claims.push({
          id: schedule.id,
          pending: ticks,
          nextFireAt: due.next,
          claimedUntil,
          by: this.rt.serverId,
        });
        const plans = planOverlap(schedule.overlap, ticks, previousOf(schedule));
        jobs.push({ schedule, plans, manual: false, claimedUntil });
      }
      await claimSchedules(tx, claims);
      return jobs;
    });
  }
}
