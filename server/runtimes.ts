/**
 * The composition root of a process's runtimes: each is built once here (startApp calls
 * it) and passed to whatever needs it. Auth's mails reach the task engine through auth's
 * mail port (server/auth/mail_queue.ts), wired here, so auth never imports tasks/.
 */
import { type AuthObserver, type AuthRuntime, createProcessAuthRuntime } from "./auth/runtime.ts";
import type { Deps } from "./deps.ts";
import { taskMailQueue } from "./tasks/auth_mail.ts";
import type { TasksRuntime } from "./tasks/runtime.ts";
import { createTasksRuntime } from "./tasks/setup.ts";
import { type AlertsRuntime, createAlertsRuntime } from "./alerts/runtime.ts";
import { Schedules } from "./schedules/schedules.ts";
import { scheduledCampaignTicks } from "./schedules/campaign_ticks.ts";
import { CampaignsRuntime } from "./campaigns/mod.ts";

export interface Runtimes {
  readonly auth: AuthRuntime;
  /** The task engine, when this process serves the tasks services. */
  readonly tasks?: TasksRuntime;
  /** The alert evaluator, with the task engine (notifications are tasks). */
  readonly alerts?: AlertsRuntime;
  /** The schedules and their scheduler loop, with the task engine. */
  readonly schedules?: Schedules;
  /** Campaigns, when this process serves them with the task engine (their mails are its tasks). */
  readonly campaigns?: CampaignsRuntime;
}

export function composeRuntimes(deps: Deps, authObserver?: AuthObserver): Runtimes {
  const tasks = deps.config.server.services.includes("tasks") ? createTasksRuntime(deps) : undefined;
  // With the task engine here, mails go through the queue: retried, never lost.
  const auth = createProcessAuthRuntime(deps, tasks && taskMailQueue(tasks, deps), authObserver);
  const schedules = tasks && new Schedules(deps.sql, tasks, deps.log, deps.config.tasks.tickMs);
  // A recurring campaign's ticks are a schedule it owns, whose fires are campaign.run tasks that the
  // campaigns runtime executes (server/campaigns/run_ticks.ts).
  const campaigns = tasks && schedules && deps.config.server.services.includes("campaigns")
    ? new CampaignsRuntime(deps, tasks, { recurring: scheduledCampaignTicks(schedules) })
    : undefined;
  // The campaigns' auto-pauses reach the `campaign_auto_paused` rules through the CampaignPauses port.
  const alerts = tasks && createAlertsRuntime(deps, tasks, campaigns);
  return { auth, tasks, alerts, schedules, campaigns };
}

/** The alert evaluator of a process that serves the tasks services. */
export function alertsOf(runtimes: Runtimes): AlertsRuntime {
  tasksOf(runtimes);
  return runtimes.alerts!;
}

/** The task engine of a process that serves the tasks services. */
export function tasksOf(runtimes: Runtimes): TasksRuntime {
  if (!runtimes.tasks) {
    throw new Error("this process does not run the tasks services: add tasks to TASKMESH_SERVICES");
  }
  return runtimes.tasks;
}
