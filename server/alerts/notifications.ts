/**
 * A notification is a task: a mail through the workers' `email.send`, or a call through
 * their `webhook.post`, so the engine retries it with backoff and a mail server or a
 * receiver that is down delays the alert instead of losing it. The idempotency key names
 * the rule, the firing (its start time) and the status: a pass repeated after a crash
 * enqueues the same notification once.
 */
import type { NewTask } from "../tasks/model.ts";
import { MAIL_QUEUE, MAIL_TASK_TYPE, mailBody } from "../tasks/auth_mail.ts";
import { sealedReference } from "../tasks/sealed_payloads.ts";
import type { AlertRule } from "./model.ts";

/** Where webhook calls queue; the workers of `deno task start` serve it. */
export const WEBHOOK_QUEUE = "alerts";
export const WEBHOOK_TASK_TYPE = "webhook.post";
// An alert is urgent: ahead of bulk work sharing its queue.
const PRIORITY = 7;
const MAX_ATTEMPTS = 8;
// 2 s, 4 s, 8 s… capped at 5 min: a receiver that is down for half an hour still gets it.
const BACKOFF = { initialMs: 2_000, maxMs: 300_000, multiplier: 2 };
const TIMEOUT_MS = 30_000;
/** A sealed webhook call outlives its eight attempts (under an hour of backoff) by far. */
const SEAL_MS = 24 * 3600_000;

export type AlertStatus = "firing" | "resolved";

export interface Notification {
  rule: AlertRule;
  status: AlertStatus;
  /** When the firing began (the idempotency key's episode). */
  since: number;
  value: number;
  summary: string;
  at: number;
}

const enc = new TextEncoder();

function task(n: Notification, queue: string, type: string, payload: unknown): NewTask {
  return {
    queue,
    type,
    payload: payload instanceof Uint8Array ? payload : enc.encode(JSON.stringify(payload)),
    priority: PRIORITY,
    runAt: n.at,
    maxAttempts: MAX_ATTEMPTS,
    backoff: BACKOFF,
    timeoutMs: TIMEOUT_MS,
    idempotencyKey: `alert:${n.rule.id}:${n.since}:${n.status}`,
    labels: { source: "alerts", alert_rule: n.rule.id, alert_status: n.status },
    dependsOn: [],
    dependsOnBatchIndex: [],
    condition: "on_success",
  };
}

/** What a webhook receives (the body of `webhook.post`'s POST). */
export function webhookBody(n: Notification) {
  return {
    status: n.status,
    rule: { id: n.rule.id, name: n.rule.name, kind: n.rule.kind, queue: n.rule.queue },
    summary: n.summary,
    value: n.value,
    since: new Date(n.since).toISOString(),
    at: new Date(n.at).toISOString(),
  };
}

/** The task that delivers `n` to its rule's address, mail sent as `from`. */
export function notificationTask(n: Notification, from: string): NewTask {
  if (n.rule.webhookUrl) {
    // The URL may carry the receiver's secret, and every reader of tasks sees their payloads:
    // the call is sealed like a mail with a token, and opened only in its worker's Assign.
    const id = crypto.randomUUID();
    const call = enc.encode(JSON.stringify({ url: n.rule.webhookUrl, body: webhookBody(n) }));
    return {
      ...task(n, WEBHOOK_QUEUE, WEBHOOK_TASK_TYPE, sealedReference(id)),
      sealed: { id, body: call, expiresAt: n.at + SEAL_MS },
    };
  }
  const word = n.status === "firing" ? "FIRING" : "RESOLVED";
  const text = [
    `${word}: ${n.rule.name}`,
    "",
    n.summary,
    "",
    `rule: ${n.rule.kind}${n.rule.queue ? ` on queue ${n.rule.queue}` : ""} (id ${n.rule.id})`,
    `firing since: ${new Date(n.since).toISOString()}`,
    n.status === "resolved" ? `resolved at: ${new Date(n.at).toISOString()}` : "",
  ].join("\n");
  const body = mailBody({ to: n.rule.emailTo, subject: `[taskmesh] ${word}: ${n.rule.name}`, text }, from);
  return task(n, MAIL_QUEUE, MAIL_TASK_TYPE, body);
}
