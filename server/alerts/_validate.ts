/** CreateAlertRule's checks: every field bounded, each problem named by its field. */
import { boundedNumber, duration, enumValue, invalid, text } from "../kit/validate.ts";
import {
  AlertKind as ProtoKind,
  AlertKindSchema,
  type AlertRule as ProtoRule,
} from "../../gen/taskmesh/alerts/v1/alerts_pb.ts";
import type { AlertKind, AlertRule } from "./model.ts";

export const RULE_NAME_MAX_CHARS = 100;
export const EMAIL_MAX_CHARS = 320;
export const URL_MAX_CHARS = 2048;
export const SILENCE_MS = { min: 0, max: 7 * 86_400_000, default: 15 * 60_000 };
export const WINDOW_MS = { min: 60_000, max: 86_400_000, default: 5 * 60_000 };
/** A queue's name, as Enqueue takes it (server/tasks/_spec.ts, private to the engine's folder). */
const QUEUE_NAME = /^[a-z0-9_.-]{1,64}$/;
/** A deployment has a handful of rules; each pass reads them all. */
export const MAX_RULES = 500;
/** Oldest queued age: at most 30 days, in seconds. Dead letters grown: at most a million. */
const MAX_AGE_SECONDS = 30 * 86_400;
const MAX_DEAD = 1_000_000;

export const KIND_NAMES: Record<ProtoKind, AlertKind | undefined> = {
  [ProtoKind.UNSPECIFIED]: undefined,
  [ProtoKind.DEAD_LETTERS_GROWING]: "dead_letters_growing",
  [ProtoKind.OLDEST_QUEUED_AGE]: "oldest_queued_age",
  [ProtoKind.NO_WORKER]: "no_worker",
  [ProtoKind.ERROR_RATE]: "error_rate",
  [ProtoKind.CAMPAIGN_AUTO_PAUSED]: "campaign_auto_paused",
};

function threshold(kind: AlertKind, value: number): number {
  const f = "rule.threshold";
  switch (kind) {
    case "dead_letters_growing":
      return value === 0 ? 1 : boundedNumber(f, value, 1, MAX_DEAD);
    case "oldest_queued_age":
      return boundedNumber(f, value, 1, MAX_AGE_SECONDS);
    case "error_rate":
      if (!Number.isFinite(value) || value <= 0 || value > 1) {
        throw invalid(f, `is ${value}: ERROR_RATE takes a fraction above 0, up to 1 (0.05 is 5%)`);
      }
      return value;
    default:
      if (value !== 0) throw invalid(f, "is not used by this kind: leave it 0");
      return 0;
  }
}

function webhookUrl(value: string): string {
  const url = text("rule.webhook_url", value, { max: URL_MAX_CHARS });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid("rule.webhook_url", "is not a URL: give an http:// or https:// address");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw invalid(
      "rule.webhook_url",
      `uses ${parsed.protocol.slice(0, 20)}: give an http:// or https:// address`,
    );
  }
  return url;
}

function emailTo(value: string): string {
  const to = text("rule.email_to", value, { max: EMAIL_MAX_CHARS });
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(to)) {
    throw invalid("rule.email_to", 'is not an email address, e.g. "ops@example.com"');
  }
  return to;
}

/** The rule to store, or InvalidArgument naming the first field that is wrong. */
export function toAlertRule(rule: ProtoRule | undefined, now: number): AlertRule {
  if (!rule) throw invalid("rule", "is required");
  const kind = KIND_NAMES[enumValue("rule.kind", AlertKindSchema, rule.kind, false)]!;
  const name = text("rule.name", rule.name.trim(), { min: 1, max: RULE_NAME_MAX_CHARS });
  let queue = "";
  if (kind === "campaign_auto_paused") {
    if (rule.queue !== "") throw invalid("rule.queue", "is not used by CAMPAIGN_AUTO_PAUSED: leave it empty");
  } else {
    if (rule.queue === "") throw invalid("rule.queue", "is required for this kind: name the queue to watch");
    if (!QUEUE_NAME.test(rule.queue)) {
      throw invalid(
        "rule.queue",
        `${JSON.stringify(rule.queue.slice(0, 80))} is not a queue name: use 1–64 of a-z 0-9 _ . -`,
      );
    }
    queue = rule.queue;
  }
  if ((rule.emailTo === "") === (rule.webhookUrl === "")) {
    throw invalid("rule.email_to", "or rule.webhook_url: give exactly one, where the notifications go");
  }
  const window = duration("rule.window", rule.window, WINDOW_MS);
  if (window !== undefined && kind !== "dead_letters_growing") {
    throw invalid("rule.window", "is for DEAD_LETTERS_GROWING only: leave it unset");
  }
  return {
    id: crypto.randomUUID(),
    name,
    kind,
    queue,
    threshold: threshold(kind, rule.threshold),
    windowMs: window ?? WINDOW_MS.default,
    emailTo: rule.emailTo === "" ? "" : emailTo(rule.emailTo),
    webhookUrl: rule.webhookUrl === "" ? "" : webhookUrl(rule.webhookUrl),
    silenceMs: duration("rule.silence", rule.silence, SILENCE_MS) ?? SILENCE_MS.default,
    createdAt: now,
  };
}
