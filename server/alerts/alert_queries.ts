/** SQL of alert rules and their states. */
import type { Sql } from "../db/postgres.ts";
import type { AlertKind, AlertRule, AlertState, FiringAlert } from "./model.ts";

interface RuleRow {
  id: string;
  name: string;
  kind: AlertKind;
  queue: string;
  threshold: number;
  window_ms: string;
  email_to: string;
  webhook_url: string;
  silence_ms: string;
  created_at: Date;
}

interface StateRow {
  rule_id: string;
  firing: boolean;
  since: Date | null;
  notified: boolean;
  notified_at: Date | null;
  value: number;
  baseline: number | null;
  changed_at: Date | null;
  summary: string;
  evaluated_at: Date;
}

const ms = (d: Date | null) => d?.getTime() ?? null;
const at = (n: number | null) => n === null ? null : new Date(n);

function toRule(r: RuleRow): AlertRule {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    queue: r.queue,
    threshold: r.threshold,
    windowMs: Number(r.window_ms),
    emailTo: r.email_to,
    webhookUrl: r.webhook_url,
    silenceMs: Number(r.silence_ms),
    createdAt: r.created_at.getTime(),
  };
}

function toState(r: StateRow): AlertState {
  return {
    ruleId: r.rule_id,
    firing: r.firing,
    since: ms(r.since),
    notified: r.notified,
    notifiedAt: ms(r.notified_at),
    value: r.value,
    baseline: r.baseline,
    changedAt: ms(r.changed_at),
    summary: r.summary,
    evaluatedAt: r.evaluated_at.getTime(),
  };
}

export async function insertRule(sql: Sql, rule: AlertRule): Promise<AlertRule> {
  const [row] = await sql<RuleRow[]>`
    insert into alert_rules (id, name, kind, queue, threshold, window_ms, email_to, webhook_url, silence_ms, created_at)
    values (${rule.id}, ${rule.name}, ${rule.kind}, ${rule.queue}, ${rule.threshold}, ${rule.windowMs},
      ${rule.emailTo}, ${rule.webhookUrl}, ${rule.silenceMs}, ${new Date(rule.createdAt)})
    returning *`;
  return toRule(row);
}

/** Whether a rule was there to delete. */
export async function deleteRule(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`delete from alert_rules where id = ${id} returning id`;
  return rows.length > 0;
}

/** Rules after the (created_at, id) cursor, oldest first. */
export async function selectRules(
  sql: Sql,
  after: { createdAt: number; id: string } | undefined,
  limit: number,
): Promise<AlertRule[]> {
  const rows = after
    ? await sql<RuleRow[]>`
      select * from alert_rules where (created_at, id) > (${new Date(after.createdAt)}, ${after.id})
      order by created_at, id limit ${limit}`
    : await sql<RuleRow[]>`select * from alert_rules order by created_at, id limit ${limit}`;
  return rows.map(toRule);
}

/** Every rule with its state (none before its first evaluation). */
export async function selectRulesWithStates(
  sql: Sql,
): Promise<{ rule: AlertRule; state: AlertState | undefined }[]> {
  const rows = await sql<(RuleRow & { state: StateRow | null })[]>`
    select r.*, to_jsonb(s) as state from alert_rules r left join alert_states s on s.rule_id = r.id
    order by r.created_at, r.id`;
  return rows.map((r) => ({
    rule: toRule(r),
    state: r.state ? toState(revive(r.state)) : undefined,
  }));
}

/** jsonb hands timestamps back as strings. */
function revive(s: StateRow): StateRow {
  const d = (v: unknown) => v === null ? null : new Date(v as string);
  return {
    ...s,
    since: d(s.since),
    notified_at: d(s.notified_at),
    changed_at: d(s.changed_at),
    evaluated_at: d(s.evaluated_at)!,
  };
}

/** Firing alerts after the (since, rule id) cursor, longest-firing first. */
export async function selectFiring(
  sql: Sql,
  after: { since: number; ruleId: string } | undefined,
  limit: number,
): Promise<FiringAlert[]> {
  const cursor = after ? sql`and (s.since, s.rule_id) > (${new Date(after.since)}, ${after.ruleId})` : sql``;
  const rows = await sql<(RuleRow & { state: StateRow })[]>`
    select r.*, to_jsonb(s) as state from alert_states s join alert_rules r on r.id = s.rule_id
    where s.firing ${cursor}
    order by s.since, s.rule_id limit ${limit}`;
  return rows.map((r) => ({ rule: toRule(r), state: toState(revive(r.state)) }));
}

export async function upsertState(sql: Sql, s: AlertState): Promise<void> {
  await sql`
    insert into alert_states (rule_id, firing, since, notified, notified_at, value, baseline, changed_at, summary,
      evaluated_at)
    select ${s.ruleId}, ${s.firing}, ${at(s.since)}, ${s.notified}, ${
    at(s.notifiedAt)
  }, ${s.value}, ${s.baseline},
      ${at(s.changedAt)}, ${s.summary}, ${new Date(s.evaluatedAt)}
    where exists (select 1 from alert_rules where id = ${s.ruleId})
    on conflict (rule_id) do update set firing = excluded.firing, since = excluded.since,
      notified = excluded.notified, notified_at = excluded.notified_at, value = excluded.value,
      baseline = excluded.baseline, changed_at = excluded.changed_at, summary = excluded.summary,
      evaluated_at = excluded.evaluated_at`;
}
