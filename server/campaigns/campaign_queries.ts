/** SQL of campaigns and their runs. */
import type postgres from "postgres";

export type Db = postgres.ISql;

export type CampaignStateWord = "draft" | "scheduled" | "sending" | "paused" | "completed" | "cancelled";
export type RunStateWord = "sending" | "paused" | "completed" | "cancelled";

export type AudienceJson =
  | { tags: { tagIds: string[]; includeDescendants: boolean } }
  | { explicit: { emails: string[] } };
export type ScheduleJson = { now: true } | { at: number } | {
  cron: { expression: string; timeZone: string };
};
export interface ContentJson {
  enabled: boolean;
  tagIds: string[];
}

export interface CampaignRow {
  id: string;
  name: string;
  template_id: string;
  audience: AudienceJson;
  schedule: ScheduleJson;
  content: ContentJson;
  rate_per_second: number;
  max_concurrency: number;
  max_error_rate: number;
  state: CampaignStateWord;
  pause_reason: string;
  next_run_at: Date | null;
  created_by: string;
  seq: string;
  created_at: Date;
  updated_at: Date;
}

export interface CampaignFields {
  name: string;
  templateId: string;
  audience: AudienceJson;
  schedule: ScheduleJson;
  content: ContentJson;
  ratePerSecond: number;
  maxConcurrency: number;
  maxErrorRate: number;
}

export interface RunRow {
  id: string;
  campaign_id: string;
  run_time: Date;
  state: RunStateWord;
  pause_reason: string;
  created_at: Date;
  finished_at: Date | null;
}

export async function insertCampaign(db: Db, id: string, c: CampaignFields, createdBy: string, now: Date) {
  const [row] = await db<CampaignRow[]>`
    insert into campaigns (id, name, template_id, audience, schedule, content, rate_per_second, max_concurrency,
      max_error_rate, state, created_by, created_at, updated_at)
    values (${id}, ${c.name}, ${c.templateId}, ${db.json(c.audience)}, ${db.json(c.schedule)},
      ${db.json(c.content as never)}, ${c.ratePerSecond}, ${c.maxConcurrency}, ${c.maxErrorRate}, 'draft',
      ${createdBy}, ${now}, ${now})
    returning *`;
  return row;
}

export async function updateCampaignFields(db: Db, id: string, c: CampaignFields, now: Date) {
  const [row] = await db<CampaignRow[]>`
    update campaigns set name = ${c.name}, template_id = ${c.templateId}, audience = ${db.json(c.audience)},
      schedule = ${db.json(c.schedule)}, content = ${db.json(c.content as never)},
      rate_per_second = ${c.ratePerSecond}, max_concurrency = ${c.maxConcurrency},
      max_error_rate = ${c.maxErrorRate}, updated_at = ${now}
    where id = ${id} returning *`;
  return row;
}

export async function selectCampaign(db: Db, id: string, lock = false): Promise<CampaignRow | undefined> {
  const [row] = await db<CampaignRow[]>`
    select * from campaigns where id = ${id} ${lock ? db`for update` : db``}`;
  return row;
}

export async function listCampaigns(
  db: Db,
  state: CampaignStateWord | null,
  beforeSeq: string | null,
  limit: number,
) {
  return await db<CampaignRow[]>`
    select * from campaigns
    where (${beforeSeq}::bigint is null or seq < ${beforeSeq}::bigint)
      ${state ? db`and state = ${state}` : db``}
    order by seq desc limit ${limit + 1}`;
}

export async function setCampaignState(
  db: Db,
  id: string,
  state: CampaignStateWord,
  fields: { pauseReason?: string; nextRunAt?: Date | null; schedule?: ScheduleJson },
  now: Date,
): Promise<CampaignRow> {
  const [row] = await db<CampaignRow[]>`
    update campaigns set state = ${state}, updated_at = ${now},
      pause_reason = ${fields.pauseReason ?? ""}
      ${fields.nextRunAt !== undefined ? db`, next_run_at = ${fields.nextRunAt}` : db``}
      ${fields.schedule !== undefined ? db`, schedule = ${db.json(fields.schedule)}` : db``}
    where id = ${id} returning *`;
  return row;
}

/** Scheduled campaigns whose next tick has come. */
export async function selectDueCampaigns(db: Db, now: Date, limit: number): Promise<CampaignRow[]> {
  return await db<CampaignRow[]>`
    select * from campaigns where state = 'scheduled' and next_run_at <= ${now}
    order by next_run_at limit ${limit}`;
}

/** The run for (campaign, tick), inserted when new; `created` says which. */
export async function insertRun(db: Db, id: string, campaignId: string, runTime: Date, now: Date) {
  const [row] = await db<RunRow[]>`
    insert into campaign_runs (id, campaign_id, run_time, state, created_at)
    values (${id}, ${campaignId}, ${runTime}, 'sending', ${now})
    on conflict (campaign_id, run_time) do nothing returning *`;
  if (row) return { run: row, created: true };
  const [existing] = await db<RunRow[]>`
    select * from campaign_runs where campaign_id = ${campaignId} and run_time = ${runTime}`;
  return { run: existing, created: false };
}

export async function selectRun(db: Db, id: string): Promise<RunRow | undefined> {
  const [row] = await db<RunRow[]>`select * from campaign_runs where id = ${id}`;
  return row;
}

export async function selectLatestRun(db: Db, campaignId: string): Promise<RunRow | undefined> {
  const [row] = await db<RunRow[]>`
    select * from campaign_runs where campaign_id = ${campaignId} order by run_time desc limit 1`;
  return row;
}

export async function listRuns(db: Db, campaignId: string, beforeTime: string | null, limit: number) {
  return await db<RunRow[]>`
    select * from campaign_runs where campaign_id = ${campaignId}
      and (${beforeTime}::timestamptz is null or run_time < ${beforeTime}::timestamptz)
    order by run_time desc limit ${limit + 1}`;
}

/** Runs still sending, oldest first: the dispatcher's work. */
export async function selectSendingRuns(db: Db, limit: number): Promise<RunRow[]> {
  return await db<RunRow[]>`
    select * from campaign_runs where state = 'sending' order by created_at limit ${limit}`;
}

export async function setRunState(
  db: Db,
  id: string,
  from: RunStateWord[],
  state: RunStateWord,
  pauseReason: string,
  now: Date,
): Promise<RunRow | undefined> {
  const finished = state === "completed" || state === "cancelled";
  const [row] = await db<RunRow[]>`
    update campaign_runs set state = ${state}, pause_reason = ${pauseReason},
      finished_at = ${finished ? now : null}
    where id = ${id} and state = any(${from}) returning *`;
  return row;
}

/** Campaigns paused by their error rate (not by an operator), for the alert rule. */
export async function selectAutoPaused(db: Db, limit = 100) {
  return await db<{ id: string; name: string; reason: string }[]>`
    select id, name, pause_reason as reason from campaigns
    where state = 'paused' and pause_reason like 'error rate %' order by updated_at limit ${limit}`;
}
