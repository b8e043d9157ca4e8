/**
 * AlertService: rules in Postgres, managed by admins; the firing alerts the evaluator
 * (evaluator.ts) recorded, read by operators and viewers (the TUI's alerts view).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  type AlertKind as ProtoKind,
  type AlertRule as ProtoRule,
  AlertRuleSchema,
  AlertService,
  type FiringAlert as ProtoFiring,
  FiringAlertSchema,
} from "../../gen/taskmesh/alerts/v1/alerts_pb.ts";
import type { Sql } from "../db/postgres.ts";
import type { Clock } from "../clock.ts";
import { decodePageToken, pageOf, pageSize } from "../kit/paging.ts";
import { uuid } from "../kit/validate.ts";
import { type Caller, callerOf } from "../auth/caller.ts";
import { deleteRule, insertRule, selectFiring, selectRules } from "./alert_queries.ts";
import type { AlertRule, FiringAlert } from "./model.ts";
import { KIND_NAMES, MAX_RULES, toAlertRule } from "./_validate.ts";

const KIND_NUMBERS = new Map(
  Object.entries(KIND_NAMES).filter(([, name]) => name).map(([n, name]) => [name!, Number(n) as ProtoKind]),
);

/**
 * A webhook URL often carries its receiver's secret (a token in the path or query), and
 * rules are listed to viewers and `tasks:read` keys: only admins, who set it, see it whole;
 * everyone else sees where it points (its origin).
 */
export function shownWebhookUrl(url: string, caller: Caller): string {
  if (url === "" || (caller.kind === "user" && caller.role === "admin")) return url;
  return `${new URL(url).origin}/…`;
}

export function ruleToProto(r: AlertRule): ProtoRule {
  return create(AlertRuleSchema, {
    id: r.id,
    name: r.name,
    kind: KIND_NUMBERS.get(r.kind),
    queue: r.queue,
    threshold: r.threshold,
    window: r.kind === "dead_letters_growing" ? durationFromMs(r.windowMs) : undefined,
    emailTo: r.emailTo,
    webhookUrl: r.webhookUrl,
    silence: durationFromMs(r.silenceMs),
    createTime: timestampFromMs(r.createdAt),
  });
}

function firingToProto({ rule, state }: FiringAlert): ProtoFiring {
  return create(FiringAlertSchema, {
    ruleId: rule.id,
    ruleName: rule.name,
    kind: KIND_NUMBERS.get(rule.kind),
    queue: rule.queue,
    since: timestampFromMs(state.since ?? state.evaluatedAt),
    value: state.value,
    summary: state.summary,
    notified: state.notified,
  });
}

export function registerAlertService(router: ConnectRouter, deps: { sql: Sql; clock: Clock }): void {
  const { sql, clock } = deps;
  router.service(AlertService, {
    async createAlertRule(req) {
      const rule = toAlertRule(req.rule, clock.now());
      const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from alert_rules`;
      if (count >= MAX_RULES) {
        throw new ConnectError(
          `there are ${count} alert rules, the most there may be: delete one first`,
          Code.ResourceExhausted,
        );
      }
      return { rule: ruleToProto(await insertRule(sql, rule)) };
    },
    async deleteAlertRule(req) {
      if (!(await deleteRule(sql, uuid("id", req.id)))) {
        throw new ConnectError(`alert rule ${req.id} does not exist`, Code.NotFound);
      }
      return {};
    },
    async listAlertRules(req, ctx) {
      const size = pageSize(req.pageSize);
      const query = { list: "alert_rules" };
      const after = decodePageToken(req.pageToken, query, ["int", "uuid"]);
      const rows = await selectRules(
        sql,
        after ? { createdAt: after[0] as number, id: after[1] as string } : undefined,
        size + 1,
      );
      const { page, nextPageToken } = pageOf(rows, size, query, (r) => [r.createdAt, r.id]);
      const caller = callerOf(ctx);
      const rules = page.map((r) => ruleToProto({ ...r, webhookUrl: shownWebhookUrl(r.webhookUrl, caller) }));
      return { rules, nextPageToken };
    },
    async listFiringAlerts(req) {
      const size = pageSize(req.pageSize);
      const query = { list: "firing_alerts" };
      const after = decodePageToken(req.pageToken, query, ["int", "uuid"]);
      const rows = await selectFiring(
        sql,
        after ? { since: after[0] as number, ruleId: after[1] as string } : undefined,
        size + 1,
      );
      const { page, nextPageToken } = pageOf(rows, size, query, (r) => [r.state.since ?? 0, r.rule.id]);
      return { alerts: page.map(firingToProto), nextPageToken };
    },
  });
}
