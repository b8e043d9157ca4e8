/**
 * Executes `campaign.run` tasks in the server: a schedule that fires a recurring
 * campaign's tick (server/schedules on its branch: payload {"campaign_id": id}, the tick
 * in the label `schedule_tick`) enqueues one, and this takes it from the `campaigns`
 * queue through the engine's public claim and finish, as a worker would, and starts the
 * tick's run (CampaignRunner.startRun: one run per campaign and tick, so a repeated fire
 * or a retried task changes nothing). A campaign that is gone or not launched fails the
 * task for good; anything else is retried with the task's backoff.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../log.ts";
import type { AttemptResult, TaskRecord } from "../tasks/model.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { CampaignRunner } from "./runner.ts";

export const CAMPAIGN_RUN_TYPE = "campaign.run";
export const CAMPAIGN_RUN_QUEUE = "campaigns";
const BATCH = 10;

const encoder = new TextEncoder();

/** The campaign and tick a `campaign.run` task names, or a refusal saying what is wrong. */
export function tickOf(
  task: Pick<TaskRecord, "payload" | "labels" | "runAt">,
): { campaignId: string; tick: number } {
  let campaignId: unknown;
  try {
    campaignId = JSON.parse(new TextDecoder().decode(task.payload)).campaign_id;
  } catch {
    campaignId = undefined;
  }
  if (typeof campaignId !== "string" || !/^[0-9a-f-]{36}$/i.test(campaignId)) {
    throw new ConnectError('payload must be {"campaign_id": "<uuid>"}', Code.InvalidArgument);
  }
  const labelled = Date.parse(task.labels.schedule_tick ?? "");
  return { campaignId: campaignId.toLowerCase(), tick: Number.isFinite(labelled) ? labelled : task.runAt };
}

export class RunTicks {
  readonly workerId: string;
  constructor(readonly tasks: TasksRuntime, readonly runner: CampaignRunner, readonly log: Logger) {
    this.workerId = `campaigns@${tasks.serverId}`;
  }

  async #run(task: TaskRecord): Promise<AttemptResult> {
    try {
      const { campaignId, tick } = tickOf(task);
      const run = await this.runner.startRun(campaignId, tick);
      return { ok: true, output: encoder.encode(JSON.stringify({ run_id: run.id })) };
    } catch (error) {
      const final = error instanceof ConnectError &&
        [Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition].includes(error.code);
      const message = error instanceof ConnectError ? error.rawMessage : String(error);
      if (!final) {
        this.log.warn("campaign tick failed: retried with backoff", { task_id: task.id, error: message });
      }
      return {
        ok: false,
        error: { message, code: final ? "campaign_refused" : "campaign_run_failed", retryable: !final },
      };
    }
  }

  /** Takes the due `campaign.run` tasks and starts their runs; how many it took. */
  async once(): Promise<number> {
    const { started } = await this.tasks.claimAndStart(
      { queues: [CAMPAIGN_RUN_QUEUE], max: BATCH, workerId: this.workerId, types: [CAMPAIGN_RUN_TYPE] },
      () => false,
    );
    for (const { task, leaseId } of started) {
      const startedAt = this.tasks.clock.now();
      this.tasks.taskStarted(task);
      const result = await this.#run(task);
      // A claim writes no start (docs/ARCHITECTURE.md, "Delivery: at least once, completed once"): it is recorded with the
      // finish, fenced by the version the claim read.
      const start = task.version === undefined
        ? {}
        : { version: task.version, workerId: this.workerId, startedAt };
      await this.tasks.finish([{ taskId: task.id, leaseId, result, ...start }], this.workerId, () => {});
    }
    return started.length;
  }
}
