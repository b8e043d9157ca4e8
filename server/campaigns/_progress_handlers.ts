/** Progress and recipients: ListDeliveries, ListCampaignRuns, WatchCampaign, and UnsubscribeByToken. */
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CampaignService } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { systemClock } from "../clock.ts";
import { decodePageToken, pageOf, pageSize } from "../kit/paging.ts";
import { invalid, text, uuid } from "../kit/validate.ts";
import { DELIVERY_STATES, deliveryOf, runOf, wordOf } from "./_convert.ts";
import { campaignView, missingCampaign } from "./_campaign_handlers.ts";
import type { HandlerDeps } from "./_deps.ts";
import { listRuns, selectCampaign, selectLatestRun, selectRun } from "./campaign_queries.ts";
import { countRun, listDeliveries, suppress } from "./delivery_queries.ts";

type Impl = Pick<
  ServiceImpl<typeof CampaignService>,
  "listDeliveries" | "listCampaignRuns" | "watchCampaign" | "unsubscribeByToken"
>;

/** The one answer to every refused token: it tells nothing about the address. */
export const REFUSED_TOKEN =
  "this unsubscribe link is not valid or has expired: use the link from a recent email";

/** Honours a token: the address is suppressed (idempotently); undefined when refused. */
export async function unsubscribeWithToken(deps: HandlerDeps, token: string): Promise<string | undefined> {
  const now = deps.clock.now();
  const email = await deps.signer.verify(token, now);
  if (!email) return undefined;
  await suppress(deps.sql, email, "unsubscribed", new Date(now));
  deps.log.info("unsubscribed by link", { domain: email.split("@").pop() });
  return email;
}

export function progressHandlers(deps: HandlerDeps): Impl {
  const { sql, clock } = deps;
  return {
    async listDeliveries(req) {
      const campaignId = uuid("campaign_id", req.campaignId);
      const limit = pageSize(req.pageSize);
      const state = wordOf(DELIVERY_STATES, req.state);
      const run = req.runId
        ? await selectRun(sql, uuid("run_id", req.runId))
        : await selectLatestRun(sql, campaignId);
      if (req.runId && (!run || run.campaign_id !== campaignId)) {
        throw new ConnectError(`run ${req.runId} is not a run of campaign ${campaignId}`, Code.NotFound);
      }
      if (!run) {
        if (!(await selectCampaign(sql, campaignId))) throw missingCampaign(campaignId);
        return { deliveries: [], nextPageToken: "" };
      }
      const query = { list: "deliveries", filters: { run: run.id, state, first: req.failuresFirst } };
      const after = decodePageToken(req.pageToken, query, ["int", "text"]);
      const rows = await listDeliveries(
        sql,
        run.id,
        state,
        req.failuresFirst,
        after ? [after[0] as number, after[1] as string] : null,
        limit,
      );
      const { page, nextPageToken } = pageOf(rows, limit, query, (r) => [Number(r.rank), r.email_key]);
      return { deliveries: page.map(deliveryOf), nextPageToken };
    },
    async listCampaignRuns(req) {
      const campaignId = uuid("campaign_id", req.campaignId);
      if (!(await selectCampaign(sql, campaignId))) throw missingCampaign(campaignId);
      const limit = pageSize(req.pageSize);
      const query = { list: "campaign_runs", filters: { campaignId } };
      const after = decodePageToken(req.pageToken, query, ["text"]);
      const rows = await listRuns(sql, campaignId, (after?.[0] as string) ?? null, limit);
      const { page, nextPageToken } = pageOf(rows, limit, query, (r) => [r.run_time.toISOString()]);
      const runs = [];
      for (const r of page) runs.push(runOf(r, await countRun(sql, r.id, new Date(clock.now()))));
      return { runs, nextPageToken };
    },
    async *watchCampaign(req, ctx) {
      const id = uuid("id", req.id);
      let last = "";
      while (!ctx.signal.aborted) {
        const row = await selectCampaign(sql, id);
        if (!row) throw missingCampaign(id);
        const { campaign, counts } = await campaignView(deps, row);
        const rate = counts ? counts.recent / 60 : 0;
        const left = counts ? counts.pending + counts.claimed : 0;
        const message = {
          campaign,
          ratePerSecond: rate,
          etaSeconds: rate > 0 && left > 0 ? BigInt(Math.ceil(left / rate)) : 0n,
        };
        const key = JSON.stringify([row.state, row.pause_reason, counts, campaign.currentRun?.id]);
        if (key !== last) {
          last = key;
          yield message;
        }
        // Paced by the wall clock: a stream's polling is operational, not domain time.
        await systemClock.sleep(deps.watchIntervalMs, ctx.signal).catch(() => {});
      }
    },
    async unsubscribeByToken(req) {
      text("token", req.token, { min: 1, max: 1024 });
      const email = await unsubscribeWithToken(deps, req.token);
      if (!email) throw invalid("token", REFUSED_TOKEN.replace(/^this unsubscribe link /, ""));
      return { email };
    },
  };
}
