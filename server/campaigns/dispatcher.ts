/**
 * The dispatcher hands a sending run's pending deliveries to the `emails` queue, a
 * window at a time: for each row it re-checks suppression (unsubscribed, hard-bounced,
 * disabled, unverified) now, not only when the run started, picks the recipient's
 * content item when the campaign uses the library, renders the mail and enqueues it as
 * one `email.send` task, then marks the row claimed. The window (claimed but unfinished
 * rows) bounds what a pause leaves in flight; the engine's limit group does the pacing.
 * It also completes runs with nothing left and pauses a run whose error rate is too high.
 */
import { type Clock, systemClock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { NewTask } from "../tasks/model.ts";
import { type CampaignRow, type RunRow, selectCampaign, selectSendingRuns } from "./campaign_queries.ts";
import { type ContentRow, pickContentItem } from "./content_queries.ts";
import {
  applyOutcome,
  type Candidate,
  claimDeliveries,
  countRun,
  runProgress,
  selectPending,
  skipDeliveries,
} from "./delivery_queries.ts";
import { deliveryTask, type MailSettings } from "./delivery_mail.ts";
import { outcomeOf } from "./ledger_sync.ts";
import { type MailEvents, type MailOutcome, mailOutcomeOf } from "./mail_events.ts";
import type { CampaignRunner } from "./runner.ts";
import { selectTemplate } from "./template_queries.ts";
import { type ParsedTemplate, parseTemplate } from "./templates.ts";
import type { UnsubscribeSigner } from "./unsubscribe_token.ts";

/** Finished deliveries before the error rate may pause a run. */
export const ERROR_RATE_MIN_SAMPLE = 20;
const BATCH = 500;
/** A run's error rate is counted at least this often, and after every failure. */
const ERROR_RATE_CHECK_MS = 1000;
const FIRST_BATCH = 50;
const MAX_WINDOW = 5_000;

export interface DispatcherDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  tasks: TasksRuntime;
  runner: CampaignRunner;
  signer: UnsubscribeSigner;
  mail: MailSettings;
  /** Told of each row a pass moved to sent, failed or skipped, once its transaction committed. */
  mails: MailEvents;
}

/**
 * Claimed-but-unfinished deliveries a run may have: half a second of sending, and at
 * least the campaign's concurrency, so the limit group is the pace and a pause (by hand
 * or by the error rate) leaves little in flight. Finished mails refill it at once.
 */
export function windowOf(c: Pick<CampaignRow, "max_concurrency" | "rate_per_second">): number {
  return Math.min(MAX_WINDOW, Math.max(c.max_concurrency, Math.ceil(c.rate_per_second / 2), 10));
}

export class Dispatcher {
  readonly #parsed = new Map<string, { at: number; parsed: ParsedTemplate }>();
  /** When each run's error rate was last counted (wall clock), and the runs with a failure since. */
  readonly #checkedAt = new Map<string, number>();
  readonly #failedSince = new Set<string>();
  constructor(readonly deps: DispatcherDeps) {}

  async #template(id: string): Promise<ParsedTemplate | undefined> {
    const row = await selectTemplate(this.deps.sql, id);
    if (!row) return undefined;
    const cached = this.#parsed.get(id);
    if (cached && cached.at === row.updated_at.getTime()) return cached.parsed;
    const parsed = parseTemplate({ subject: row.subject, htmlBody: row.html_body, textBody: row.text_body });
    this.#parsed.set(id, { at: row.updated_at.getTime(), parsed });
    return parsed;
  }

  /** One pass over every sending run; how many deliveries it handed over or skipped. */
  async tick(): Promise<number> {
    await this.deps.runner.fireDue();
    let moved = 0;
    for (const run of await selectSendingRuns(this.deps.sql, 100)) moved += await this.dispatchRun(run);
    return moved;
  }

  /** A delivery of `runId` failed: its error rate is checked at the next pass. */
  noteFailure(runId: string): void {
    this.#failedSince.add(runId);
  }

  /** Pauses the campaign when the run's error rate is over its threshold; whether it did. */
  async #errorRateTooHigh(c: CampaignRow, run: RunRow, now: number): Promise<boolean> {
    const last = this.#checkedAt.get(run.id) ?? 0;
    if (!this.#failedSince.has(run.id) && now - last < ERROR_RATE_CHECK_MS) return false;
    this.#failedSince.delete(run.id);
    this.#checkedAt.set(run.id, now);
    const counts = await countRun(this.deps.sql, run.id, new Date(now));
    const finished = counts.sent + counts.failed;
    if (finished < ERROR_RATE_MIN_SAMPLE || counts.failed / finished <= c.max_error_rate) return false;
    const rate = (counts.failed / finished).toFixed(2);
    await this.deps.runner.pause(
      c.id,
      `error rate ${rate} over ${c.max_error_rate.toFixed(2)} after ${finished} finished deliveries`,
    );
    return true;
  }

  async dispatchRun(run: RunRow): Promise<number> {
    const { sql, clock, runner } = this.deps;
    const now = clock.now();
    const c = await selectCampaign(sql, run.campaign_id);
    if (!c) return 0;
    if (await this.#errorRateTooHigh(c, run, systemClock.now())) return 0;
    // Index-only look-ups, bounded by the window: cheap enough for every pass of a big run.
    const progress = await runProgress(sql, run.id);
    if (!progress.pending && progress.claimed === 0) {
      this.#checkedAt.delete(run.id);
      await runner.completeRun(run);
      return 0;
    }
    const free = windowOf(c) - progress.claimed;
    if (free <= 0 || !progress.pending) return 0;
    const parsed = await this.#template(c.template_id);
    if (!parsed) return 0;
    // A run's first batch is small, so its first mail leaves soon after the launch.
    const batch = progress.claimed === 0 && !progress.started ? FIRST_BATCH : BATCH;
    return await this.#handOver(c, run, parsed, await selectPending(sql, run.id, Math.min(free, batch)), now);
  }

  async #handOver(
    c: CampaignRow,
    run: RunRow,
    parsed: ParsedTemplate,
    rows: Candidate[],
    now: number,
  ): Promise<number> {
    const { sql, tasks, signer, mail, log, mails } = this.deps;
    const skips: { id: string; reason: string }[] = [];
    const batch: { row: Candidate; task: NewTask; item?: ContentRow }[] = [];
    for (const row of rows) {
      if (row.reason) {
        skips.push({ id: row.id, reason: row.reason });
        continue;
      }
      let item: ContentRow | undefined;
      if (c.content.enabled) {
        item = row.user_id
          ? await pickContentItem(sql, row.user_id, row.email_key, c.content.tagIds)
          : undefined;
        if (!item) {
          skips.push({ id: row.id, reason: "no_content_left" });
          continue;
        }
      }
      try {
        const token = await signer.sign(row.email, now);
        batch.push({ row, item, task: deliveryTask(c, run, row, parsed, item, token, mail, now) });
      } catch (error) {
        // A template that fails for this recipient (render limit, bad data) fails this delivery only.
        const message = error instanceof Error ? error.message : String(error);
        const failed = await applyOutcome(
          sql,
          row.id,
          { kind: "failed", attempts: 0, error: message },
          new Date(now),
        );
        if (failed) mails.moved("failed", 1);
      }
    }
    // Under the run's row lock, checked to be still sending: a pause or cancel waits for the
    // hand-over to commit, then sees every row it claimed (and cancels their queued mails).
    let moved: Partial<Record<MailOutcome, number>> = {};
    const handed = await sql.begin(async (tx) => {
      moved = {};
      const [locked] = await tx<{ state: string }[]>`
        select state from campaign_runs where id = ${run.id} for update`;
      if (locked?.state !== "sending") return false;
      moved.skipped = await skipDeliveries(
        tx,
        skips.map((s) => s.id),
        skips.map((s) => s.reason),
        new Date(now),
      );
      if (batch.length === 0) return true;
      const result = await tasks.enqueue(batch.map((b) => b.task));
      await claimDeliveries(
        tx,
        batch.map((b, i) => ({ id: b.row.id, taskId: result.tasks[i].id, itemId: b.item?.id ?? null })),
        new Date(now),
      );
      // A delivery handed over before (a crash between enqueue and claim) gets its first task
      // back, maybe already finished: its outcome is applied now, as the event that was missed.
      for (const [i, task] of result.tasks.entries()) {
        if (!result.duplicates[i]) continue;
        const outcome = outcomeOf(task, undefined);
        const kind = outcome && (await applyOutcome(tx, batch[i].row.id, outcome, new Date(now))) &&
          mailOutcomeOf(outcome.kind);
        if (kind) moved[kind] = (moved[kind] ?? 0) + 1;
      }
      return true;
    });
    if (!handed) return 0;
    for (const [kind, n] of Object.entries(moved)) mails.moved(kind as MailOutcome, n);
    log.debug("campaign deliveries handed over", {
      run_id: run.id,
      tasks: batch.length,
      skipped: skips.length,
    });
    return batch.length + skips.length;
  }
}
