/**
 * The composition root of a process's runtimes: each is built once here (startApp calls
 * it) and passed to whatever needs it. Auth's mails reach the task engine through auth's
 * mail port (server/auth/mail_queue.ts), wired here, so auth never imports tasks/.
 */
import { type AuthRuntime, createProcessAuthRuntime } from "./auth/runtime.ts";
import type { Deps } from "./deps.ts";
import { taskMailQueue } from "./tasks/auth_mail.ts";
import type { TasksRuntime } from "./tasks/runtime.ts";
import { createTasksRuntime } from "./tasks/setup.ts";
import { CampaignsRuntime } from "./campaigns/mod.ts";

export interface Runtimes {
  readonly auth: AuthRuntime;
  /** The task engine, when this process serves the tasks services. */
  readonly tasks?: TasksRuntime;
  /** Campaigns, when this process serves them with the task engine (their mails are its tasks). */
  readonly campaigns?: CampaignsRuntime;
}

export function composeRuntimes(deps: Deps): Runtimes {
  const tasks = deps.config.server.services.includes("tasks") ? createTasksRuntime(deps) : undefined;
  // With the task engine here, mails go through the queue: retried, never lost.
  const auth = createProcessAuthRuntime(deps, tasks && taskMailQueue(tasks, deps));
  const campaigns = tasks && deps.config.server.services.includes("campaigns")
    ? new CampaignsRuntime(deps, tasks)
    : undefined;
  return { auth, tasks, campaigns };
}

/** The task engine of a process that serves the tasks services. */
export function tasksOf(runtimes: Runtimes): TasksRuntime {
  if (!runtimes.tasks) {
    throw new Error("this process does not run the tasks services: add tasks to TASKMESH_SERVICES");
  }
  return runtimes.tasks;
}
