/**
 * What a member does with their own campaign mail: list the mails (the daily
 * challenges) they received, and undo an unsubscribe from the link's page.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type CampaignService, MyDeliverySchema } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { requireUser } from "../auth/caller.ts";
import { decodePageToken, pageOf, pageSize } from "../kit/paging.ts";
import { invalid, text } from "../kit/validate.ts";
import { contentItemOf } from "./_convert.ts";
import type { HandlerDeps } from "./_deps.ts";
import { REFUSED_TOKEN } from "./_progress_handlers.ts";
import { liftUnsubscribe, listMyDeliveries, type MyDeliveryRow } from "./member_queries.ts";

type Impl = Pick<ServiceImpl<typeof CampaignService>, "listMyDeliveries" | "resubscribeByToken">;

/** JSON (to_jsonb) gives the item's dates as strings. */
function itemOf(row: MyDeliveryRow) {
  if (!row.item) return undefined;
  const i = row.item;
  return contentItemOf({ ...i, created_at: new Date(i.created_at), updated_at: new Date(i.updated_at) });
}

export function memberHandlers(deps: HandlerDeps): Impl {
  const { sql, clock, signer, log } = deps;
  return {
    async listMyDeliveries(req, ctx) {
      const user = requireUser(ctx);
      const limit = pageSize(req.pageSize);
      // The user is part of the query, so one member's page token is refused for another.
      const query = { list: "my-deliveries", filters: { mine: user.userId } };
      const after = decodePageToken(req.pageToken, query, ["text", "uuid"]);
      const rows = await listMyDeliveries(
        sql,
        user.userId,
        after ? [after[0] as string, after[1] as string] : null,
        limit,
      );
      const { page, nextPageToken } = pageOf(rows, limit, query, (r) => [r.sent_at.toISOString(), r.id]);
      return {
        deliveries: page.map((r) =>
          create(MyDeliverySchema, {
            id: r.id,
            campaignId: r.campaign_id,
            campaignName: r.campaign_name,
            runTime: timestampFromDate(r.run_time),
            sendTime: timestampFromDate(r.sent_at),
            item: itemOf(r),
          })
        ),
        nextPageToken,
      };
    },
    async resubscribeByToken(req) {
      text("token", req.token, { min: 1, max: 1024 });
      const email = await signer.verify(req.token, clock.now());
      if (!email) throw invalid("token", REFUSED_TOKEN.replace(/^this unsubscribe link /, ""));
      const resubscribed = await liftUnsubscribe(sql, email);
      log.info("unsubscribe undone by link", { domain: email.split("@").pop(), resubscribed });
      return { email, resubscribed };
    },
  };
}
