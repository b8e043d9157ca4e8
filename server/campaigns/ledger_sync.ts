/**
 * How the ledger learns what became of each mail: the engine tells its watchers about
 * every committed task change (TasksRuntime.onTask), and a task carrying a delivery's
 * label moves that delivery: succeeded → sent, dead → failed (a 5xx also suppresses the
 * address: a hard bounce), cancelled → skipped, a retry scheduled → attempts and last
 * error. The event comes after the engine's commit, so a server that dies in between
 * misses it: the sweep reads the tasks of deliveries claimed for a while through the
 * engine (TasksRuntime.get) and applies what it finds. Every update is guarded by the
 * state it leaves, so an event applied twice changes nothing. Sent rows, one per mail of
 * a big campaign, are written in batches (SentBatcher): one statement for what arrived
 * while the last one ran, not a round trip a mail.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import type { TaskRecord, TaskState } from "../tasks/model.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import {
  applyOutcome,
  applySent,
  type Outcome,
  selectStaleClaims,
  suppress,
  touchClaims,
} from "./delivery_queries.ts";
import { LABEL_DELIVERY } from "./delivery_mail.ts";
import { type MailEvents, mailOutcomeOf } from "./mail_events.ts";

/** A claim older than this without news is looked up by the sweep. */
export const STALE_CLAIM_MS = 30_000;

/** What a task change means for its delivery, or undefined for none. */
export function outcomeOf(task: TaskRecord, previous: TaskState | undefined): Outcome | undefined {
  const attempts = task.attemptNumber;
  const error = task.lastError ? `${task.lastError.code}: ${task.lastError.message}` : "";
  switch (task.state) {
    case "succeeded":
      return { kind: "sent", attempts };
    case "dead":
      return { kind: "failed", attempts, error };
    case "cancelled":
      return { kind: "cancelled" };
    case "scheduled":
    case "failed":
      return task.lastError && previous !== "scheduled" ? { kind: "retrying", attempts, error } : undefined;
    default:
      return undefined;
  }
}

/** A hard bounce: the server refused the address for good. */
export function isHardBounce(task: TaskRecord): boolean {
  return task.state === "dead" && /^smtp_5\d\d$/.test(task.lastError?.code ?? "");
}

export interface LedgerSyncDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  tasks: TasksRuntime;
  /** A delivery of run `runId` finished (`failed` for good or not): the dispatcher may fill the window again. */
  finished: (runId: string, failed: boolean) => void;
  /** Told of each row an outcome moved (the metrics count them). */
  mails: MailEvents;
}

/** Most sent rows one statement moves. */
export const SENT_BATCH = 1000;

interface SentEntry {
  id: string;
  attempts: number;
  at: Date;
  done: (runId: string | undefined) => void;
  fail: (error: unknown) => void;
}

/**
 * Writes sent outcomes a batch at a time: the first waits for nothing but the outcomes told
 * with it (the same synchronous turn), and what arrives while a statement runs goes in the
 * next one, so a quiet ledger adds no delay and a busy one takes one round trip for up to
 * SENT_BATCH mails. Each caller learns whether
 * its row moved (the run it belongs to) once the statement that wrote it committed.
 */
export class SentBatcher {
  #queue = new Map<string, SentEntry>();
  /** Entries for a row already queued: they moved nothing (the first one tells). */
  #repeats: SentEntry[] = [];
  #flushing?: Promise<void>;
  constructor(readonly sql: Sql) {}

  /** Queues a sent outcome; the run of the row if this call moved it, else undefined. */
  add(id: string, attempts: number, at: Date): Promise<string | undefined> {
    return new Promise((done, fail) => {
      const entry = { id, attempts, at, done, fail };
      if (this.#queue.has(id)) this.#repeats.push(entry);
      else this.#queue.set(id, entry);
      // A microtask later, not now: the engine tells a finished batch's tasks in one synchronous
      // loop, so they all go in the first statement rather than the first mail alone, then the rest.
      this.#flushing ??= Promise.resolve().then(() => this.#flush());
    });
  }

  /** Waits until everything queued so far is written. */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.size > 0) {
        const batch = [...this.#queue.values()].slice(0, SENT_BATCH);
        for (const entry of batch) this.#queue.delete(entry.id);
        const repeats = this.#repeats;
        this.#repeats = [];
        try {
          const moved = new Map((await applySent(this.sql, batch)).map((r) => [r.id, r.run_id]));
          for (const entry of batch) entry.done(moved.get(entry.id));
          for (const entry of repeats) entry.done(undefined);
        } catch (error) {
          for (const entry of [...batch, ...repeats]) entry.fail(error);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }
}

export class LedgerSync {
  #off?: () => void;
  readonly #pending = new Set<Promise<void>>();
  readonly #sent: SentBatcher;
  constructor(readonly deps: LedgerSyncDeps) {
    this.#sent = new SentBatcher(deps.sql);
  }

  start(): void {
    this.#off = this.deps.tasks.onTask((task, previous) => {
      const deliveryId = task.labels[LABEL_DELIVERY];
      if (!deliveryId) return;
      const work = this.apply(deliveryId, task, previous).catch((error) =>
        this.deps.log.warn("ledger update failed: the sweep will retry it", {
          task_id: task.id,
          error: String(error),
        })
      );
      this.#pending.add(work);
      work.finally(() => this.#pending.delete(work));
    });
  }

  async stop(): Promise<void> {
    this.#off?.();
    await Promise.all([...this.#pending]);
    await this.#sent.idle();
  }

  async apply(deliveryId: string, task: TaskRecord, previous: TaskState | undefined): Promise<void> {
    const outcome = outcomeOf(task, previous);
    if (!outcome) return;
    const { sql, clock } = this.deps;
    const now = new Date(clock.now());
    if (outcome.kind === "sent") {
      const runId = await this.#sent.add(deliveryId, outcome.attempts, now);
      if (runId === undefined) return;
      this.deps.mails.moved("sent", 1);
      this.deps.finished(runId, false);
      return;
    }
    const row = await applyOutcome(sql, deliveryId, outcome, now);
    const moved = row && mailOutcomeOf(outcome.kind);
    if (moved) this.deps.mails.moved(moved, 1);
    if (row && isHardBounce(task)) await suppress(sql, row.email_key, "hard_bounced", now);
    if (row && outcome.kind !== "retrying") this.deps.finished(row.run_id, outcome.kind === "failed");
  }

  /** Looks up the tasks of claims that heard nothing for a while; how many moved. */
  async sweep(limit = 200): Promise<number> {
    const { sql, clock, tasks } = this.deps;
    const now = clock.now();
    const stale = await selectStaleClaims(sql, new Date(now - STALE_CLAIM_MS), limit);
    const waiting: string[] = [];
    let moved = 0;
    for (const claim of stale) {
      const found = await tasks.get(claim.task_id);
      if (found && outcomeOf(found.task, undefined)?.kind !== undefined && found.task.state !== "scheduled") {
        await this.apply(claim.id, found.task, undefined);
        moved++;
      } else {
        waiting.push(claim.id);
      }
    }
    await touchClaims(sql, waiting, new Date(now));
    return moved;
  }
}
