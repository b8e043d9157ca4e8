/** Campaigns: create, update, read, list, launch, pause, resume, cancel, start a tick's run. */
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CampaignService } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { callerLabel, callerOf } from "../auth/caller.ts";
import { decodePageToken, pageOf, pageSize } from "../kit/paging.ts";
import { invalid, text, timestamp, uuid } from "../kit/validate.ts";
import {
  audienceFrom,
  CAMPAIGN_STATES,
  campaignOf,
  concurrencyFrom,
  contentFrom,
  errorRateFrom,
  rateFrom,
  runOf,
  scheduleFrom,
  wordOf,
} from "./_convert.ts";
import type { HandlerDeps } from "./_deps.ts";
import {
  type CampaignFields,
  type CampaignRow,
  insertCampaign,
  listCampaigns,
  selectCampaign,
  selectLatestRun,
  updateCampaignFields,
} from "./campaign_queries.ts";
import { countRun } from "./delivery_queries.ts";
import { selectTemplate } from "./template_queries.ts";

type Impl = Pick<
  ServiceImpl<typeof CampaignService>,
  | "createCampaign"
  | "updateCampaign"
  | "getCampaign"
  | "listCampaigns"
  | "launchCampaign"
  | "pauseCampaign"
  | "resumeCampaign"
  | "cancelCampaign"
  | "startCampaignRun"
>;

export const missingCampaign = (id: string) =>
  new ConnectError(`campaign ${id} does not exist: list campaigns to find its id`, Code.NotFound);

/** A campaign with the figures of its latest run. */
export async function campaignView(deps: HandlerDeps, row: CampaignRow) {
  const run = await selectLatestRun(deps.sql, row.id);
  const counts = run ? await countRun(deps.sql, run.id, new Date(deps.clock.now())) : undefined;
  return { campaign: campaignOf(row, run, counts), run, counts };
}

export function campaignHandlers(deps: HandlerDeps): Impl {
  const { sql, clock, runner } = deps;

  async function checkTemplate(field: string, id: string): Promise<string> {
    const templateId = uuid(field, id);
    if (!(await selectTemplate(sql, templateId))) {
      throw new ConnectError(`${field}: template ${templateId} does not exist`, Code.NotFound);
    }
    return templateId;
  }

  async function load(id: string): Promise<CampaignRow> {
    const row = await selectCampaign(sql, uuid("id", id));
    if (!row) throw missingCampaign(id);
    return row;
  }

  const view = async (row: CampaignRow) => ({ campaign: (await campaignView(deps, row)).campaign });

  return {
    async createCampaign(req, ctx: HandlerContext) {
      const c = req.campaign;
      if (!c) throw invalid("campaign", "is required");
      const now = clock.now();
      const fields: CampaignFields = {
        name: text("campaign.name", c.name.trim(), { min: 1, max: 100 }),
        templateId: await checkTemplate("campaign.template_id", c.templateId),
        audience: audienceFrom("campaign.audience", c.audience),
        schedule: scheduleFrom("campaign.schedule", c.schedule, now),
        content: contentFrom("campaign.content", c.content),
        ratePerSecond: rateFrom("campaign.rate_per_second", c.ratePerSecond),
        maxConcurrency: concurrencyFrom("campaign.max_concurrency", c.maxConcurrency),
        maxErrorRate: errorRateFrom("campaign.max_error_rate", c.maxErrorRate),
      };
      const row = await insertCampaign(
        sql,
        crypto.randomUUID(),
        fields,
        callerLabel(callerOf(ctx)),
        new Date(now),
      );
      return await view(row);
    },
    async updateCampaign(req) {
      const old = await load(req.id);
      if (!["draft", "scheduled", "completed"].includes(old.state)) {
        throw new ConnectError(
          `campaign ${old.id} is ${old.state}: pause or cancel it, or wait until it completes, before changing it`,
          Code.FailedPrecondition,
        );
      }
      const now = clock.now();
      const fields: CampaignFields = {
        name: req.name !== undefined ? text("name", req.name.trim(), { min: 1, max: 100 }) : old.name,
        templateId: req.templateId !== undefined
          ? await checkTemplate("template_id", req.templateId)
          : old.template_id,
        audience: req.audience ? audienceFrom("audience", req.audience) : old.audience,
        schedule: req.schedule ? scheduleFrom("schedule", req.schedule, now) : old.schedule,
        content: req.content ? contentFrom("content", req.content) : old.content,
        ratePerSecond: req.ratePerSecond !== undefined
          ? rateFrom("rate_per_second", req.ratePerSecond)
          : old.rate_per_second,
        maxConcurrency: req.maxConcurrency !== undefined
          ? concurrencyFrom("max_concurrency", req.maxConcurrency)
          : old.max_concurrency,
        maxErrorRate: req.maxErrorRate !== undefined
          ? errorRateFrom("max_error_rate", req.maxErrorRate)
          : old.max_error_rate,
      };
      let row = await updateCampaignFields(sql, old.id, fields, new Date(now));
      await runner.configureLimits(row);
      // A scheduled campaign whose schedule changed waits for its new time or tick.
      if (req.schedule && row.state === "scheduled") row = await runner.rearm(row);
      return await view(row);
    },
    async getCampaign(req) {
      return await view(await load(req.id));
    },
    async listCampaigns(req) {
      const limit = pageSize(req.pageSize);
      const state = wordOf(CAMPAIGN_STATES, req.state);
      const query = { list: "campaigns", filters: { state } };
      const after = decodePageToken(req.pageToken, query, ["digits"]);
      const rows = await listCampaigns(sql, state, (after?.[0] as string) ?? null, limit);
      const { page, nextPageToken } = pageOf(rows, limit, query, (r) => [String(r.seq)]);
      const campaigns = [];
      for (const row of page) campaigns.push((await campaignView(deps, row)).campaign);
      return { campaigns, nextPageToken };
    },
    async launchCampaign(req) {
      const id = uuid("id", req.id);
      const schedule = req.schedule ? scheduleFrom("schedule", req.schedule, clock.now()) : undefined;
      return await view(await runner.launch(id, schedule));
    },
    async pauseCampaign(req) {
      return await view(await runner.pause(uuid("id", req.id), "paused by an operator"));
    },
    async resumeCampaign(req) {
      return await view(await runner.resume(uuid("id", req.id)));
    },
    async cancelCampaign(req) {
      return await view(await runner.cancel(uuid("id", req.id)));
    },
    async startCampaignRun(req) {
      const id = uuid("campaign_id", req.campaignId);
      const now = clock.now();
      const tick = timestamp("run_time", req.runTime, {
        min: now - 7 * 24 * 3600_000,
        max: now + 60_000,
        says: "within the last 7 days and not in the future",
      }) ?? now;
      const run = await runner.startRun(id, tick);
      return { run: runOf(run, await countRun(sql, run.id, new Date(now))) };
    },
  };
}
