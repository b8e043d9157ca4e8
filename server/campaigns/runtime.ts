/**
 * The campaigns of one server process: the runner (campaign and run state), the
 * dispatcher (pending deliveries → email.send tasks) and the ledger sync (task outcomes
 * → deliveries), with one loop that dispatches and sweeps. It needs the task engine in
 * the same process (campaign mails are its tasks). Built once by server/runtimes.ts. The
 * loop also executes the `campaign.run` tasks a schedule fires (run_ticks.ts).
 */
import { systemClock } from "../clock.ts";
import type { Deps } from "../deps.ts";
import { type Loop, startLoop } from "../loop.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { HandlerDeps } from "./_deps.ts";
import type { MailSettings } from "./delivery_mail.ts";
import { Dispatcher } from "./dispatcher.ts";
import { LedgerSync } from "./ledger_sync.ts";
import { MailEvents, type MailsListener } from "./mail_events.ts";
import { localRecurring, type RecurringPort } from "./recurring.ts";
import { CampaignRunner } from "./runner.ts";
import { selectAutoPaused } from "./campaign_queries.ts";
import { RunTicks } from "./run_ticks.ts";
import { unsubscribeRoutes } from "./unsubscribe_routes.ts";
import { createUnsubscribeSigner } from "./unsubscribe_token.ts";
import type { HttpRoute } from "../http_routes.ts";

export interface CampaignsOptions {
  /** Where recurring ticks come from (default: croner in the runner's loop). */
  recurring?: RecurringPort;
  /** Real milliseconds between two dispatcher passes (default 250). */
  intervalMs?: number;
  /** Retry settings of campaign mails (tests shorten the backoff). */
  mail?: Partial<Pick<MailSettings, "backoff" | "maxAttempts">>;
  watchIntervalMs?: number;
}

const SWEEP_EVERY_MS = 10_000;
const REFILL_MS = 50;

function domainOf(from: string): string {
  return from.match(/@([^\s>]+)/)?.[1] ?? "taskmesh.localhost";
}

export class CampaignsRuntime {
  readonly runner: CampaignRunner;
  readonly dispatcher: Dispatcher;
  readonly sync: LedgerSync;
  readonly ticks: RunTicks;
  readonly handlerDeps: HandlerDeps;
  readonly getRoutes: Record<string, HttpRoute>;
  readonly postRoutes: Record<string, HttpRoute>;
  readonly #mails = new MailEvents();
  #loop?: Loop;
  #lastSweep = 0;

  constructor(deps: Deps, tasks: TasksRuntime, options: CampaignsOptions = {}) {
    const { sql, clock, config } = deps;
    const log = deps.log.child({ service: "campaigns" });
    const signer = createUnsubscribeSigner(sql);
    const wake = () => this.#loop?.kick();
    // A finished mail frees a window slot; refilling once per 50 ms is enough (the window
    // holds half a second of sending) and keeps a fast run from looping on every event.
    let lastKick = 0;
    const refill = (runId: string, failed: boolean) => {
      if (failed) this.dispatcher.noteFailure(runId);
      const now = systemClock.now();
      if (now - lastKick < REFILL_MS) return;
      lastKick = now;
      wake();
    };
    this.runner = new CampaignRunner({
      sql,
      clock,
      log,
      tasks,
      recurring: options.recurring ?? localRecurring,
      messageDomain: domainOf(config.mail.from),
      wake,
      mails: this.#mails,
    });
    this.dispatcher = new Dispatcher({
      sql,
      clock,
      log,
      tasks,
      runner: this.runner,
      signer,
      mail: { from: config.mail.from, publicUrl: config.server.publicUrl, ...options.mail },
      mails: this.#mails,
    });
    this.ticks = new RunTicks(tasks, this.runner, log);
    this.sync = new LedgerSync({ sql, clock, log, tasks, finished: refill, mails: this.#mails });
    this.handlerDeps = {
      sql,
      clock,
      log,
      runner: this.runner,
      signer,
      watchIntervalMs: options.watchIntervalMs ?? 1000,
    };
    const routes = unsubscribeRoutes(this.handlerDeps);
    this.getRoutes = routes.get;
    this.postRoutes = routes.post;
    this.intervalMs = options.intervalMs ?? 250;
  }

  readonly intervalMs: number;

  /**
   * Tells `listener` how many ledger rows this instance moved to sent, failed or skipped
   * (server/campaigns/mail_events.ts); the function returned stops it. The metrics use it.
   */
  onMails(listener: MailsListener): () => void {
    return this.#mails.on(listener);
  }

  /** One dispatcher pass, and the sweep when it is due; tests call it to move without waiting. */
  async tick(): Promise<number> {
    await this.ticks.once();
    const moved = await this.dispatcher.tick();
    const now = systemClock.now();
    if (now - this.#lastSweep >= SWEEP_EVERY_MS) {
      this.#lastSweep = now;
      await this.sync.sweep();
    }
    return moved;
  }

  /**
   * Campaigns their error rate paused: the shape of the alerts' CampaignPauses port
   * (server/alerts/model.ts on main), so the `campaign_auto_paused` rule can read them.
   */
  async autoPaused(): Promise<{ id: string; name: string; reason: string }[]> {
    return [...await selectAutoPaused(this.handlerDeps.sql)];
  }

  start(): void {
    this.sync.start();
    // Paced by the wall clock: how often to look is operational; what is due uses deps.clock.
    this.#loop = startLoop(
      "campaigns",
      { intervalMs: this.intervalMs, clock: systemClock, log: this.handlerDeps.log },
      () => this.tick(),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    await this.sync.stop();
  }
}
