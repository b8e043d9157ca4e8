/**
 * The alert evaluator of a process: a loop that, every TASKMESH_ALERTS_INTERVAL_MS on the
 * injected clock, evaluates every rule when this instance holds the evaluation lease
 * (lease.ts). 0 turns the loop off on this instance (another one evaluates).
 */
import type { Deps } from "../deps.ts";
import { type Loop, startLoop } from "../loop.ts";
import { alertsLeaseKey, DEFAULT_PREFIX } from "../redis/keys.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import { evaluateAlerts, type EvaluatorDeps, type PassResult } from "./evaluator.ts";
import { type EvaluationLease, IN_PROCESS_LEASE, redisLease } from "./lease.ts";
import { type CampaignPauses, NO_CAMPAIGNS } from "./model.ts";
import { engineQueues } from "./task_sources.ts";

/** A lease outlives two missed passes, and a fast loop's lease still a few seconds. */
const leaseTtl = (intervalMs: number) => 2 * intervalMs + 5_000;

export class AlertsRuntime {
  #loop?: Loop;

  constructor(
    readonly deps: EvaluatorDeps,
    readonly lease: EvaluationLease,
    readonly intervalMs: number,
  ) {}

  /** One pass now, when this instance holds the lease; undefined when another one does. */
  async evaluate(): Promise<PassResult | undefined> {
    if (!(await this.lease.hold())) return undefined;
    return await evaluateAlerts(this.deps);
  }

  start(): Promise<void> {
    if (this.intervalMs > 0 && !this.#loop) {
      const { clock, log } = this.deps;
      this.#loop = startLoop("alerts", { intervalMs: this.intervalMs, clock, log }, () => this.evaluate());
    }
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (!this.#loop) return;
    await this.#loop.stop();
    this.#loop = undefined;
    await this.lease.release().catch(() => {});
  }
}

export function createAlertsRuntime(
  deps: Pick<Deps, "sql" | "redis" | "clock" | "log" | "config">,
  tasks: TasksRuntime,
  campaigns: CampaignPauses = NO_CAMPAIGNS,
): AlertsRuntime {
  const { intervalMs } = deps.config.alerts;
  const lease = deps.redis.kind === "redis"
    ? redisLease(deps.redis.client, alertsLeaseKey(DEFAULT_PREFIX), tasks.serverId, leaseTtl(intervalMs))
    : IN_PROCESS_LEASE;
  const evaluator: EvaluatorDeps = {
    sql: deps.sql,
    clock: deps.clock,
    log: deps.log.child({ component: "alerts" }),
    sources: { queues: engineQueues(tasks), campaigns },
    enqueue: (t) => tasks.enqueue(t),
    mailFrom: deps.config.mail.from,
  };
  return new AlertsRuntime(evaluator, lease, intervalMs);
}
