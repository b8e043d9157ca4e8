/**
 * How the ledger learns what became of each mail: the engine tells its watchers about
 * every committed task change (TasksRuntime.onTask), and a task carrying a delivery's
 * label moves that delivery: succeeded → sent, dead → failed (a 5xx also suppresses the
 * address: a hard bounce), cancelled → skipped, a retry scheduled → attempts and last
 * error. The event comes after the engine's commit, so a server that dies in between
 * misses it: the sweep reads the tasks of deliveries claimed for a while through the
 * engine (TasksRuntime.get) and applies what it finds. Every update is guarded by the
 * state it leaves, so an event applied twice changes nothing.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import type { TaskRecord, TaskState } from "../tasks/model.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import { applyOutcome, type Outcome, selectStaleClaims, suppress, touchClaims } from "./delivery_queries.ts";
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

export class LedgerSync {
  #off?: () => void;
  readonly #pending = new Set<Promise<void>>();
  constructor(readonly deps: LedgerSyncDeps) {}

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
  }

  async apply(deliveryId: string, task: TaskRecord, previous: TaskState | undefined): Promise<void> {
    const outcome = outcomeOf(task, previous);
    if (!outcome) return;
    const { sql, clock } = this.deps;
    const now = new Date(clock.now());
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
