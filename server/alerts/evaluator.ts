/**
 * One evaluation pass over every rule: read the figures once, decide each rule's
 * transition, enqueue the notifications, remember the new states. Only the instance
 * holding the alerts lease runs it (runtime.ts), so two instances never notify twice.
 *
 * A transition, given the silence window that counts from the rule's last notification:
 * - starts firing: notified, unless the silence of the previous notification still runs
 *   (then it fires silently, and is notified if it still fires once the silence is over);
 * - stops firing: a "resolved" notification, only for a firing that was notified.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import type { NewTask } from "../tasks/model.ts";
import { selectRulesWithStates, upsertState } from "./alert_queries.ts";
import { type Reading, readRule, type Seen } from "./conditions.ts";
import type { AlertRule, AlertSources, AlertState } from "./model.ts";
import { type AlertStatus, type Notification, notificationTask } from "./notifications.ts";

export interface EvaluatorDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  sources: AlertSources;
  /** The task engine's enqueue. */
  enqueue(tasks: NewTask[]): Promise<unknown>;
  /** The From of alert mails. */
  mailFrom: string;
}

export interface PassResult {
  notifications: Notification[];
  firing: number;
}

/** The rule's next state after `reading`, and what to notify. */
export function transition(
  rule: AlertRule,
  prev: AlertState | undefined,
  reading: Reading,
  now: number,
): { state: AlertState; notify?: AlertStatus } {
  const base = {
    ruleId: rule.id,
    value: reading.value,
    summary: reading.summary.slice(0, 500),
    baseline: reading.baseline,
    changedAt: reading.changedAt,
    evaluatedAt: now,
  };
  const silentUntil = prev?.notifiedAt === null || prev?.notifiedAt === undefined
    ? -Infinity
    : prev.notifiedAt + rule.silenceMs;
  const kept = {
    since: prev?.since ?? null,
    notified: prev?.notified ?? false,
    notifiedAt: prev?.notifiedAt ?? null,
  };
  if (reading.active) {
    const starts = !prev?.firing;
    const since = starts ? now : kept.since ?? now;
    const notified = starts ? false : kept.notified;
    if (!notified && now >= silentUntil) {
      return { state: { ...base, firing: true, since, notified: true, notifiedAt: now }, notify: "firing" };
    }
    return { state: { ...base, firing: true, since, notified, notifiedAt: kept.notifiedAt } };
  }
  if (prev?.firing) {
    const state = { ...base, ...kept, firing: false, notified: false };
    return prev.notified ? { state, notify: "resolved" } : { state };
  }
  return { state: { ...base, ...kept, firing: false } };
}

export async function evaluateAlerts(deps: EvaluatorDeps): Promise<PassResult> {
  const rules = await selectRulesWithStates(deps.sql);
  if (rules.length === 0) return { notifications: [], firing: 0 };
  const wants = (campaign: boolean) =>
    rules.some((r) => (r.rule.kind === "campaign_auto_paused") === campaign);
  const seen: Seen = {
    queues: new Map((wants(false) ? await deps.sources.queues() : []).map((q) => [q.name, q])),
    campaigns: wants(true) ? await deps.sources.campaigns.autoPaused() : [],
  };
  const now = deps.clock.now();
  const notifications: Notification[] = [];
  const states: AlertState[] = [];
  for (const { rule, state: prev } of rules) {
    const { state, notify } = transition(rule, prev, readRule(rule, seen, prev, now), now);
    states.push(state);
    if (notify) {
      notifications.push({
        rule,
        status: notify,
        since: state.since ?? now,
        value: state.value,
        summary: state.summary,
        at: now,
      });
    }
  }
  // Notifications first: a pass that dies after them repeats them with the same idempotency keys.
  if (notifications.length > 0) {
    await deps.enqueue(notifications.map((n) => notificationTask(n, deps.mailFrom)));
    for (const n of notifications) {
      deps.log.info(`alert ${n.status}`, { rule_id: n.rule.id, rule: n.rule.name, summary: n.summary });
    }
  }
  for (const state of states) await upsertState(deps.sql, state);
  return { notifications, firing: states.filter((s) => s.firing).length };
}
