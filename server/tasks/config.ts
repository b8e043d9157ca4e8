/** The task runtime's settings. */
import type { EnvReader } from "../config.ts";

export interface TasksConfig {
  /** How often workers send Heartbeat. */
  heartbeatMs: number;
  /** A lease not extended for this long expires: two heartbeat intervals. */
  leaseTtlMs: number;
  /** How often delayed tasks are promoted and the broker is checked for lost state. */
  tickMs: number;
}

export function readTasksConfig(r: EnvReader): TasksConfig {
  const heartbeatMs = r.int("TASKMESH_WORKER_HEARTBEAT_MS", 1000, 100, 60_000);
  return {
    heartbeatMs,
    leaseTtlMs: 2 * heartbeatMs,
    tickMs: r.int("TASKMESH_TASKS_TICK_MS", 250, 10, 10_000),
  };
}
