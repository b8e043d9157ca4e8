/**
 * The owner of campaign and run state: launching, starting a run for a tick (once per
 * campaign and tick), pausing, resuming and cancelling. Sending itself is the
 * dispatcher's (dispatcher.ts); what became of each mail, the ledger sync's
 * (ledger_sync.ts). Every state here lives in Postgres, so any instance may act.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import { audienceQuery } from "../tags/mod.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import {
  type CampaignRow,
  insertRun,
  type RunRow,
  type ScheduleJson,
  selectCampaign,
  selectDueCampaigns,
  setCampaignState,
  setRunState,
} from "./campaign_queries.ts";
import { insertDeliveries, skipPending } from "./delivery_queries.ts";
import { limitGroupOf } from "./delivery_mail.ts";
import type { RecurringPort } from "./recurring.ts";
import type { MailEvents } from "./mail_events.ts";

function notFound(id: string): ConnectError {
  return new ConnectError(`campaign ${id} does not exist: list campaigns to find its id`, Code.NotFound);
}

function precondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

export interface RunnerDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  tasks: TasksRuntime;
  recurring: RecurringPort;
  /** The domain of Message-IDs (the From address's). */
  messageDomain: string;
  /** Asks the dispatcher to look at sending runs now. */
  wake: () => void;
  /** Told of the rows a run's start or a cancel skipped, once committed. */
  mails: MailEvents;
}

export class CampaignRunner {
  constructor(readonly deps: RunnerDeps) {}

  /** The limit group that throttles a campaign's mails, set from its rate and concurrency. */
  async configureLimits(c: CampaignRow): Promise<void> {
    await this.deps.tasks.setLimits({ group: limitGroupOf(c.id) }, {
      concurrency: c.max_concurrency,
      ratePerSecond: c.rate_per_second,
      burst: Math.max(1, Math.round(c.rate_per_second / 10)),
    });
  }

  /** Arms a draft (or re-arms a finished one): now, at its time, or on its cron. */
  async launch(id: string, schedule?: ScheduleJson): Promise<CampaignRow> {
    const { sql, clock } = this.deps;
    const now = clock.now();
    const c = await selectCampaign(sql, id);
    if (!c) throw notFound(id);
    if (!["draft", "completed"].includes(c.state)) {
      throw precondition(
        `campaign ${id} is ${c.state}: only a draft or a completed campaign can be launched`,
      );
    }
    const when = schedule ?? c.schedule;
    await this.configureLimits(c);
    if ("cron" in when) {
      const first = await this.deps.recurring.arm(id, when.cron, now);
      return await setCampaignState(sql, id, "scheduled", {
        nextRunAt: first === null ? null : new Date(first),
        schedule: when,
      }, new Date(now));
    }
    if ("at" in when && when.at > now) {
      return await setCampaignState(
        sql,
        id,
        "scheduled",
        { nextRunAt: new Date(when.at), schedule: when },
        new Date(now),
      );
    }
    await setCampaignState(sql, id, "scheduled", { nextRunAt: null, schedule: when }, new Date(now));
    await this.startRun(id, "at" in when ? when.at : now);
    return (await selectCampaign(sql, id))!;
  }

  /** Points a scheduled campaign at its (changed) schedule's next time; "now" sends at once. */
  async rearm(c: CampaignRow): Promise<CampaignRow> {
    const now = this.deps.clock.now();
    const when = c.schedule;
    let next: number | null = now;
    if ("cron" in when) next = await this.deps.recurring.arm(c.id, when.cron, now);
    else if ("at" in when) next = when.at;
    return await setCampaignState(this.deps.sql, c.id, "scheduled", {
      nextRunAt: next === null ? null : new Date(next),
    }, new Date(now));
  }

  /**
   * Starts the run of a launched campaign for tick `tick`: the run and its whole ledger
   * in one transaction, so a second call for the same tick (another instance, a repeated
   * fire, a retried RPC) returns the same run and writes nothing.
   */
  async startRun(campaignId: string, tick: number): Promise<RunRow> {
    const { sql, clock, messageDomain } = this.deps;
    const now = new Date(clock.now());
    let skipped = 0;
    const { run, created, campaign } = await sql.begin(async (tx) => {
      skipped = 0;
      const c = await selectCampaign(tx, campaignId, true);
      if (!c) throw notFound(campaignId);
      if (c.state === "draft" || c.state === "cancelled") {
        throw precondition(`campaign ${campaignId} is ${c.state}: launch it before starting a run`);
      }
      const inserted = await insertRun(tx, crypto.randomUUID(), campaignId, new Date(tick), now);
      if (!inserted.created) return { ...inserted, campaign: c };
      const target = { id: inserted.run.id, campaignId };
      if ("explicit" in c.audience) {
        skipped +=
          (await insertDeliveries(tx, target, { emails: c.audience.explicit.emails }, messageDomain, now))
            .skipped;
      } else {
        // One statement, in SQL: the audience never comes through this process, whatever its size.
        const { tagIds, includeDescendants } = c.audience.tags;
        const audience = audienceQuery(tx, tagIds, includeDescendants);
        skipped += (await insertDeliveries(tx, target, { audience }, messageDomain, now)).skipped;
      }
      if (c.state === "paused") {
        inserted.run = (await setRunState(tx, inserted.run.id, ["sending"], "paused", c.pause_reason, now))!;
      } else {
        await setCampaignState(tx, c.id, "sending", {}, now);
      }
      return { ...inserted, campaign: c };
    });
    if (created) {
      this.deps.mails.moved("skipped", skipped);
      this.deps.log.info("campaign run started", { campaign_id: campaignId, run_id: run.id, tick });
      await this.configureLimits(campaign);
      this.deps.wake();
    }
    return run;
  }

  /** Starts the runs of campaigns whose next tick has come; the number started. */
  async fireDue(): Promise<number> {
    const { sql, clock } = this.deps;
    const due = await selectDueCampaigns(sql, new Date(clock.now()), 50);
    for (const c of due) {
      const tick = c.next_run_at!.getTime();
      await this.startRun(c.id, tick);
      const next = "cron" in c.schedule ? this.deps.recurring.next(c.schedule.cron, tick) : null;
      await sql`
        update campaigns set next_run_at = ${next === null ? null : new Date(next)}
        where id = ${c.id} and next_run_at = ${c.next_run_at}`;
    }
    return due.length;
  }

  /** A run with nothing left to send is over; its campaign waits for the next tick or is done. */
  async completeRun(run: RunRow): Promise<void> {
    const { sql, clock } = this.deps;
    const now = new Date(clock.now());
    await sql.begin(async (tx) => {
      const done = await setRunState(tx, run.id, ["sending"], "completed", "", now);
      if (!done) return;
      const c = await selectCampaign(tx, run.campaign_id, true);
      const [{ open }] = await tx<{ open: number }[]>`
        select count(*)::int as open from campaign_runs
        where campaign_id = ${run.campaign_id} and state in ('sending', 'paused')`;
      if (!c || c.state !== "sending" || open > 0) return;
      const recurring = "cron" in c.schedule || c.next_run_at !== null;
      await setCampaignState(tx, c.id, recurring ? "scheduled" : "completed", {}, now);
    });
  }

  /** Pauses the campaign and its open runs; `reason` says why (an operator, or the error rate). */
  async pause(id: string, reason: string): Promise<CampaignRow> {
    const { sql, clock } = this.deps;
    const now = new Date(clock.now());
    return await sql.begin(async (tx) => {
      const c = await selectCampaign(tx, id, true);
      if (!c) throw notFound(id);
      if (c.state === "paused") return c;
      if (!["sending", "scheduled"].includes(c.state)) {
        throw precondition(
          `campaign ${id} is ${c.state}: only a sending or scheduled campaign can be paused`,
        );
      }
      await tx`update campaign_runs set state = 'paused', pause_reason = ${reason}
        where campaign_id = ${id} and state = 'sending'`;
      if (reason !== "paused by an operator") {
        this.deps.log.warn("campaign paused", { campaign_id: id, reason });
      }
      return await setCampaignState(tx, id, "paused", { pauseReason: reason }, now);
    });
  }

  /** Resumes a paused campaign: its runs continue from their ledgers, never from the top. */
  async resume(id: string): Promise<CampaignRow> {
    const { sql, clock } = this.deps;
    const now = new Date(clock.now());
    const c = await sql.begin(async (tx) => {
      const c = await selectCampaign(tx, id, true);
      if (!c) throw notFound(id);
      if (c.state !== "paused") {
        if (c.state === "sending" || c.state === "scheduled") return c;
        throw precondition(`campaign ${id} is ${c.state}: only a paused campaign can be resumed`);
      }
      const resumed = await tx`update campaign_runs set state = 'sending', pause_reason = ''
        where campaign_id = ${id} and state = 'paused' returning id`;
      return await setCampaignState(tx, id, resumed.length > 0 ? "sending" : "scheduled", {}, now);
    });
    this.deps.wake();
    return c;
  }

  /**
   * Cancels for good: pending deliveries are skipped ("cancelled"). Mails already handed to
   * the queue (at most the window, about half a second of sending) still go and are recorded
   * as what they become: cancelling a task the worker may be sending could deliver a mail the
   * ledger calls skipped, and the ledger must say what the recipients got.
   */
  async cancel(id: string): Promise<CampaignRow> {
    const { sql, clock } = this.deps;
    const now = new Date(clock.now());
    let skipped = 0;
    const c = await sql.begin(async (tx) => {
      skipped = 0;
      const c = await selectCampaign(tx, id, true);
      if (!c) throw notFound(id);
      if (c.state === "cancelled") return c;
      if (c.state === "completed" || c.state === "draft") {
        throw precondition(`campaign ${id} is ${c.state}: there is nothing to cancel`);
      }
      const runs = await tx<{ id: string }[]>`
        update campaign_runs set state = 'cancelled', finished_at = ${now}
        where campaign_id = ${id} and state in ('sending', 'paused') returning id`;
      for (const run of runs) skipped += await skipPending(tx, run.id, now);
      return await setCampaignState(tx, id, "cancelled", { nextRunAt: null }, now);
    });
    this.deps.mails.moved("skipped", skipped);
    await this.deps.recurring.disarm(id);
    return c;
  }
}
