/**
 * The campaigns of one server process: the runner (campaign and run state), the
 * dispatcher (pending deliveries → email.send tasks) and the ledger sync (task outcomes
 * → deliveries), with one loop that dispatches and sweeps. It needs the task engine in
 * the same process (campaign mails are its tasks). Built once by server/runtimes.ts.
 */
import { systemClock } from "../clock.ts";
import type { Deps } from "../deps.ts";
import { type Loop, startLoop } from "../loop.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { HandlerDeps } from "./_deps.ts";
import type { MailSettings } from "./delivery_mail.ts";
import { Dispatcher } from "./dispatcher.ts";
import { LedgerSync } from "./ledger_sync.ts";
import { localRecurring, type RecurringPort } from "./recurring.ts";
import { CampaignRunner } from "./runner.ts";
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

function domainOf(from: string): string {
  return from.match(/@([^\s>]+)/)?.[1] ?? "taskmesh.localhost";
}

export class CampaignsRuntime {
  readonly runner: CampaignRunner;
  readonly dispatcher: Dispatcher;
  readonly sync: LedgerSync;
  readonly handlerDeps: HandlerDeps;
  readonly getRoutes: Record<string, HttpRoute>;
  readonly postRoutes: Record<string, HttpRoute>;
  #loop?: Loop;
  #lastSweep = 0;

  constructor(deps: Deps, tasks: TasksRuntime, options: CampaignsOptions = {}) {
    const { sql, clock, config } = deps;
    const log = deps.log.child({ service: "campaigns" });
    const signer = createUnsubscribeSigner(sql);
    const wake = () => this.#loop?.kick();
    this.runner = new CampaignRunner({
      sql,
      clock,
      log,
      tasks,
      recurring: options.recurring ?? localRecurring,
      messageDomain: domainOf(config.mail.from),
      wake,
    });
    this.dispatcher = new Dispatcher({
      sql,
      clock,
      log,
      tasks,
      runner: this.runner,
      signer,
      mail: { from: config.mail.from, publicUrl: config.server.publicUrl, ...options.mail },
    });
    this.sync = new LedgerSync({ sql, clock, log, tasks, finished: wake });
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

  /** One dispatcher pass, and the sweep when it is due; tests call it to move without waiting. */
  async tick(): Promise<number> {
    const moved = await this.dispatcher.tick();
    const now = systemClock.now();
    if (now - this.#lastSweep >= SWEEP_EVERY_MS) {
      this.#lastSweep = now;
      await this.sync.sweep();
    }
    return moved;
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
