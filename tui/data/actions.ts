/**
 * Everything the operator can do, as calls on the generated clients. Each returns the
 * sentence the status line shows; errors are thrown for the caller to show. Views
 * never call clients directly, so the key map and these stay the one list of actions.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { TagType } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import type { Campaign, Delivery } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { type ScheduleFire, ScheduleFireOutcome, type Task } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { type Clients, UNARY_TIMEOUT_MS } from "./clients.ts";

const opts = { timeoutMs: UNARY_TIMEOUT_MS };
const plural = (n: number | bigint, word: string) => `${n} ${word}${n === 1 || n === 1n ? "" : "s"}`;

export interface ApproveEdits {
  name?: string;
  type?: TagType;
  /** "" makes the tag a root. */
  parentId?: string;
}

export function createActions(clients: Clients) {
  return {
    async pauseQueue(queue: string): Promise<string> {
      await clients.tasks.pauseQueue({ queue }, opts);
      return `queue ${queue} paused: no new assignments`;
    },
    async resumeQueue(queue: string): Promise<string> {
      await clients.tasks.resumeQueue({ queue }, opts);
      return `queue ${queue} resumed`;
    },
    async retryTask(id: string): Promise<string> {
      await clients.tasks.retryTask({ id }, opts);
      return `task ${id.slice(0, 8)} queued again`;
    },
    async cancelTask(id: string): Promise<string> {
      await clients.tasks.cancelTask({ id, reason: "cancelled from the operator TUI" }, opts);
      return `task ${id.slice(0, 8)} cancelled`;
    },
    getTask(id: string): Promise<Task | undefined> {
      return clients.tasks.getTask({ id }, opts).then((r) => r.task);
    },
    async requeueDead(taskIds: string[]): Promise<string> {
      const { requeued } = await clients.tasks.requeueDeadLetters({ taskIds }, opts);
      return `${plural(requeued, "dead letter")} requeued`;
    },
    async requeueAllDead(queues: string[]): Promise<string> {
      let total = 0n;
      for (const queue of queues) {
        total += (await clients.tasks.requeueDeadLetters({ queue, all: true }, opts)).requeued;
      }
      return `${plural(total, "dead letter")} requeued from ${plural(queues.length, "queue")}`;
    },
    async purgeDead(taskIds: string[]): Promise<string> {
      const { purged } = await clients.tasks.purgeDeadLetters({ taskIds }, opts);
      return `${plural(purged, "dead letter")} purged`;
    },
    async purgeAllDead(queues: string[]): Promise<string> {
      let total = 0n;
      for (const queue of queues) {
        total += (await clients.tasks.purgeDeadLetters({ queue, all: true }, opts)).purged;
      }
      return `${plural(total, "dead letter")} purged from ${plural(queues.length, "queue")}`;
    },
    async drainWorker(id: string): Promise<string> {
      await clients.workers.drainWorker({ id, grace: durationFromMs(30_000) }, opts);
      return `worker ${id} draining: it finishes its tasks and disconnects`;
    },
    async pauseSchedule(id: string, name: string): Promise<string> {
      await clients.tasks.pauseSchedule({ id, paused: true, note: "paused from the operator TUI" }, opts);
      return `schedule ${name} paused`;
    },
    async resumeSchedule(id: string, name: string): Promise<string> {
      await clients.tasks.resumeSchedule({ id }, opts);
      return `schedule ${name} resumed: missed ticks follow its catch-up policy`;
    },
    async triggerSchedule(id: string, name: string): Promise<string> {
      const { fire } = await clients.tasks.triggerSchedule({ id }, opts);
      const outcome = ScheduleFireOutcome[fire?.outcome ?? 0].toLowerCase();
      return `schedule ${name} fired now: ${outcome}${
        fire?.taskId ? ` (task ${fire.taskId.slice(0, 8)})` : ""
      }`;
    },
    async deleteSchedule(id: string, name: string): Promise<string> {
      await clients.tasks.deleteSchedule({ id }, opts);
      return `schedule ${name} deleted`;
    },
    scheduleFires(id: string): Promise<ScheduleFire[]> {
      return clients.tasks.listScheduleFires({ id, pageSize: 20 }, opts).then((r) => r.fires);
    },
    async approveSuggestion(id: string, edits: ApproveEdits): Promise<string> {
      const { tag } = await clients.tags.approveSuggestion({ id, ...edits }, opts);
      return `approved: tag ${tag?.name ?? ""} created`;
    },
    async mapSuggestion(id: string, tagId: string, tagName: string): Promise<string> {
      await clients.tags.mapSuggestion({ id, tagId }, opts);
      return `mapped onto ${tagName}`;
    },
    /** Each campaign action hands the campaign the server answered with to `changed`. */
    async pauseCampaign(id: string, name: string, changed: (c: Campaign) => void): Promise<string> {
      const { campaign } = await clients.campaigns.pauseCampaign({ id }, opts);
      if (campaign) changed(campaign);
      return `campaign ${name} paused: deliveries not yet sent wait`;
    },
    async resumeCampaign(id: string, name: string, changed: (c: Campaign) => void): Promise<string> {
      const { campaign } = await clients.campaigns.resumeCampaign({ id }, opts);
      if (campaign) changed(campaign);
      return `campaign ${name} resumed`;
    },
    async cancelCampaign(id: string, name: string, changed: (c: Campaign) => void): Promise<string> {
      const { campaign } = await clients.campaigns.cancelCampaign({ id }, opts);
      if (campaign) changed(campaign);
      return `campaign ${name} cancelled: unsent deliveries are skipped`;
    },
    /** A campaign's latest run's deliveries, failures first, at most `max`. */
    async listDeliveries(
      campaignId: string,
      max: number,
    ): Promise<{ deliveries: Delivery[]; more: boolean }> {
      const deliveries: Delivery[] = [];
      let pageToken = "";
      do {
        const r = await clients.campaigns.listDeliveries(
          { campaignId, failuresFirst: true, pageSize: Math.min(1000, max - deliveries.length), pageToken },
          opts,
        );
        deliveries.push(...r.deliveries);
        pageToken = r.nextPageToken;
      } while (pageToken && deliveries.length < max);
      return { deliveries, more: pageToken !== "" };
    },
    async rejectSuggestion(id: string, reason: string): Promise<string> {
      await clients.tags.rejectSuggestion({ id, reason }, opts);
      return "suggestion rejected";
    },
  };
}

export type Actions = ReturnType<typeof createActions>;
