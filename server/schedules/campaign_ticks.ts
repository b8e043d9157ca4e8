/**
 * Recurring campaigns' ticks from schedules: the shape of the campaigns module's
 * RecurringPort (`arm`, `next`, `disarm`), so wiring it is one argument. Arming a
 * campaign upserts the schedule it owns (owner=campaign:<id>), whose every fire enqueues
 * a `campaign.run` task with payload {"campaign_id": id} (its tick in the label
 * `schedule_tick`); `arm` returns null, as the schedule fires every tick itself. A
 * campaign's run is skipped while the previous one lives, and after an outage the latest
 * missed tick runs once.
 */
import { OverlapPolicy } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { CatchUpPolicy } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { Schedules } from "./schedules.ts";

export const CAMPAIGN_RUN_TYPE = "campaign.run";

export function campaignOwner(campaignId: string): string {
  return `campaign:${campaignId}`;
}

export function scheduledCampaignTicks(schedules: Schedules, queue = "campaigns") {
  return {
    async arm(campaignId: string, cron: { expression: string; timeZone: string }, _now: number) {
      await schedules.upsertOwned(campaignOwner(campaignId), {
        name: `campaign ${campaignId}`,
        cron: cron.expression,
        timeZone: cron.timeZone,
        overlap: OverlapPolicy.SKIP,
        catchUp: CatchUpPolicy.ONCE,
        task: {
          queue,
          type: CAMPAIGN_RUN_TYPE,
          payload: new TextEncoder().encode(JSON.stringify({ campaign_id: campaignId })),
        },
      });
      return null;
    },
    next: (_cron: { expression: string; timeZone: string }, _tick: number): number | null => null,
    async disarm(campaignId: string): Promise<void> {
      await schedules.deleteOwned(campaignOwner(campaignId));
    },
  };
}
