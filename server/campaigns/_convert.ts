/** Rows to messages and messages to validated fields, for the campaign handlers. */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Audience,
  type Campaign,
  type CampaignRun,
  CampaignRunSchema,
  CampaignSchema,
  CampaignState,
  CampaignStatsSchema,
  type ContentItem,
  ContentItemSchema,
  type ContentSelection,
  type Delivery,
  DeliverySchema,
  DeliveryState,
  RunState,
  type SendSchedule,
  type Template,
  TemplateSchema,
} from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { boundedInt, boundedNumber, invalid, text, timestamp, uuid } from "../kit/validate.ts";
import type {
  AudienceJson,
  CampaignRow,
  CampaignStateWord,
  ContentJson,
  RunRow,
  RunStateWord,
  ScheduleJson,
} from "./campaign_queries.ts";
import type { ContentRow } from "./content_queries.ts";
import type { DeliveryRow, DeliveryStateWord, RunCounts } from "./delivery_queries.ts";
import { cronProblem, nextTick } from "./recurring.ts";
import type { TemplateRow } from "./template_queries.ts";

export const MAX_BODY_CHARS = 256 * 1024;
export const MAX_EXPLICIT = 10_000;
const YEAR_MS = 366 * 24 * 3600_000;

export const CAMPAIGN_STATES: Record<CampaignStateWord, CampaignState> = {
  draft: CampaignState.DRAFT,
  scheduled: CampaignState.SCHEDULED,
  sending: CampaignState.SENDING,
  paused: CampaignState.PAUSED,
  completed: CampaignState.COMPLETED,
  cancelled: CampaignState.CANCELLED,
};
const RUN_STATES: Record<RunStateWord, RunState> = {
  sending: RunState.SENDING,
  paused: RunState.PAUSED,
  completed: RunState.COMPLETED,
  cancelled: RunState.CANCELLED,
};
export const DELIVERY_STATES: Record<DeliveryStateWord, DeliveryState> = {
  pending: DeliveryState.PENDING,
  claimed: DeliveryState.SENDING,
  sent: DeliveryState.SENT,
  failed: DeliveryState.FAILED,
  skipped: DeliveryState.SKIPPED,
};

export function wordOf<W extends string>(map: Record<W, number>, value: number): W | null {
  if (value === 0) return null;
  const found = (Object.entries(map) as [W, number][]).find(([, v]) => v === value);
  if (!found) throw new ConnectError(`state ${value} is not a known state`, Code.InvalidArgument);
  return found[0];
}

const ts = (d: Date | null) => d ? timestampFromDate(d) : undefined;

export function templateOf(row: TemplateRow): Template {
  return create(TemplateSchema, {
    id: row.id,
    name: row.name,
    subject: row.subject,
    htmlBody: row.html_body,
    textBody: row.text_body,
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
  });
}

export function contentItemOf(row: ContentRow): ContentItem {
  return create(ContentItemSchema, {
    id: row.id,
    key: row.key ?? "",
    title: row.title,
    bodyMarkdown: row.body_markdown,
    bodyHtml: row.body_html,
    tagIds: row.tag_ids,
    metadata: row.metadata,
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
  });
}

export function statsOf(counts: RunCounts | undefined) {
  const c = counts ?? { pending: 0, claimed: 0, sent: 0, failed: 0, skipped: 0, recent: 0 };
  return create(CampaignStatsSchema, {
    total: BigInt(c.pending + c.claimed + c.sent + c.failed + c.skipped),
    pending: BigInt(c.pending + c.claimed),
    sending: BigInt(c.claimed),
    sent: BigInt(c.sent),
    failed: BigInt(c.failed),
    skipped: BigInt(c.skipped),
  });
}

export function runOf(row: RunRow, counts: RunCounts | undefined): CampaignRun {
  return create(CampaignRunSchema, {
    id: row.id,
    campaignId: row.campaign_id,
    runTime: ts(row.run_time),
    state: RUN_STATES[row.state],
    stats: statsOf(counts),
    pauseReason: row.pause_reason,
    createTime: ts(row.created_at),
    finishTime: ts(row.finished_at),
  });
}

/** A recurring campaign whose ticks a schedule fires (next_run_at unset): its next tick, for display. */
function displayedTick(row: CampaignRow): Date | null {
  if (!("cron" in row.schedule) || ["draft", "cancelled", "completed", "paused"].includes(row.state)) {
    return null;
  }
  const next = nextTick(row.schedule.cron, row.updated_at.getTime());
  return next === null ? null : new Date(next);
}

export function campaignOf(row: CampaignRow, run?: RunRow, counts?: RunCounts): Campaign {
  const a = row.audience;
  const s = row.schedule;
  return create(CampaignSchema, {
    id: row.id,
    name: row.name,
    templateId: row.template_id,
    audience: {
      source: "tags" in a
        ? { case: "tags", value: { tagIds: a.tags.tagIds, includeDescendants: a.tags.includeDescendants } }
        : { case: "explicit", value: { emails: a.explicit.emails } },
    },
    schedule: {
      when: "cron" in s
        ? { case: "cron", value: s.cron }
        : "at" in s
        ? { case: "at", value: timestampFromDate(new Date(s.at)) }
        : { case: "now", value: true },
    },
    ratePerSecond: row.rate_per_second,
    state: CAMPAIGN_STATES[row.state],
    stats: statsOf(counts),
    createdBy: row.created_by,
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
    nextRunTime: ts(row.next_run_at ?? displayedTick(row)),
    pauseReason: row.pause_reason,
    content: { enabled: row.content.enabled, tagIds: row.content.tagIds },
    maxConcurrency: row.max_concurrency,
    maxErrorRate: row.max_error_rate,
    currentRun: run ? runOf(run, counts) : undefined,
  });
}

export function deliveryOf(row: DeliveryRow & { run_time: Date }): Delivery {
  return create(DeliverySchema, {
    id: row.id,
    campaignId: row.campaign_id,
    runTime: ts(row.run_time),
    email: row.email,
    userId: row.user_id ?? "",
    state: DELIVERY_STATES[row.state],
    attempts: row.attempts,
    lastError: row.last_error,
    sendTime: ts(row.sent_at),
    runId: row.run_id,
    skipReason: row.skip_reason,
    contentItemId: row.content_item_id ?? "",
    messageId: row.message_id,
    taskId: row.task_id ?? "",
  });
}

function tagIdList(field: string, ids: string[], max: number, min = 0): string[] {
  if (ids.length > max) throw invalid(field, `names ${ids.length} tags: the most is ${max}`);
  if (ids.length < min) throw invalid(field, "is empty: name at least one tag");
  return [...new Set(ids.map((id, i) => uuid(`${field}[${i}]`, id)))];
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

export function audienceFrom(field: string, a: Audience | undefined): AudienceJson {
  switch (a?.source.case) {
    case "tags":
      return {
        tags: {
          tagIds: tagIdList(`${field}.tags.tag_ids`, a.source.value.tagIds, 100, 1),
          includeDescendants: a.source.value.includeDescendants,
        },
      };
    case "explicit": {
      const emails = a.source.value.emails;
      const f = `${field}.explicit.emails`;
      if (emails.length === 0) throw invalid(f, "is empty: list at least one address");
      if (emails.length > MAX_EXPLICIT) {
        throw invalid(f, `lists ${emails.length} addresses: the most is ${MAX_EXPLICIT}`);
      }
      emails.forEach((e, i) => {
        text(`${f}[${i}]`, e, { min: 3, max: 254 });
        if (!EMAIL.test(e)) throw invalid(`${f}[${i}]`, `"${e.slice(0, 80)}" is not an email address`);
      });
      return { explicit: { emails: [...new Set(emails)] } };
    }
    default:
      throw invalid(field, "is required: give tags or an explicit list of addresses");
  }
}

export function scheduleFrom(field: string, s: SendSchedule | undefined, now: number): ScheduleJson {
  switch (s?.when.case) {
    case undefined:
    case "now":
      return { now: true };
    case "at":
      return {
        at: timestamp(`${field}.at`, s.when.value, {
          min: now - YEAR_MS,
          max: now + YEAR_MS,
          says: "within a year",
        })!,
      };
    case "cron": {
      const expression = text(`${field}.cron.expression`, s.when.value.expression, { min: 1, max: 100 });
      const timeZone = text(`${field}.cron.time_zone`, s.when.value.timeZone, { max: 64 }) || "UTC";
      const problem = cronProblem({ expression, timeZone });
      if (problem) {
        throw invalid(`${field}.cron`, `is not a valid cron or time zone (${problem.slice(0, 200)})`);
      }
      return { cron: { expression, timeZone } };
    }
  }
}

export function contentFrom(field: string, c: ContentSelection | undefined): ContentJson {
  return { enabled: c?.enabled ?? false, tagIds: tagIdList(`${field}.tag_ids`, c?.tagIds ?? [], 100) };
}

/** Most mails a second a campaign may ask for: well above what one instance sends, still bounded. */
export const MAX_RATE_PER_SECOND = 10_000;

export function rateFrom(field: string, v: number): number {
  return v === 0 ? 10 : boundedNumber(field, v, 0.01, MAX_RATE_PER_SECOND);
}

export function concurrencyFrom(field: string, v: number): number {
  return v === 0 ? 20 : boundedInt(field, v, 1, 500);
}

export function errorRateFrom(field: string, v: number): number {
  return v === 0 ? 0.2 : boundedNumber(field, v, 0.01, 1);
}

export const dateOf = timestampDate;
