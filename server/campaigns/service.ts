/**
 * The CampaignService: templates, the content library, campaigns, their runs and
 * deliveries, and the public unsubscribe. Who may call what is the authorization
 * table's business (server/authz/table.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { CampaignService } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import type { HandlerDeps } from "./_deps.ts";
import { campaignHandlers } from "./_campaign_handlers.ts";
import { contentHandlers } from "./_content_handlers.ts";
import { memberHandlers } from "./_member_handlers.ts";
import { progressHandlers } from "./_progress_handlers.ts";
import { templateHandlers } from "./_template_handlers.ts";

export function createCampaignServiceImpl(deps: HandlerDeps): ServiceImpl<typeof CampaignService> {
  return {
    ...templateHandlers(deps),
    ...contentHandlers(deps),
    ...campaignHandlers(deps),
    ...progressHandlers(deps),
    ...memberHandlers(deps),
  };
}
