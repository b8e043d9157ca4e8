/** The task runtime's settings. */
import type { EnvReader } from "../config.ts";

export interface TasksConfig {
  /** How often workers send Heartbeat. */
  heartbeatMs: number;
  /** A lease not extended for this long expires: two heartbeat intervals. */
  leaseTtlMs: number;
  /** How often delayed tasks are promoted and the broker is checked for lost state. */
  tickMs: number;
  /** A WorkerService.Connect stream that has not sent Hello within this is ended (default 10 s). */
  helloTimeoutMs?: number;
}

export function readTasksConfig(r: EnvReader): TasksConfig {
  const heartbeatMs = r.int("TASKMESH_WORKER_HEARTBEAT_MS", 1000, 100, 60_000);
  return {
    heartbeatMs,
    leaseTtlMs: 2 * heartbeatMs,
    tickMs: r.int("TASKMESH_TASKS_TICK_MS", 250, 10, 10_000),
    helloTimeoutMs: r.int("TASKMESH_WORKER_HELLO_TIMEOUT_MS", 10_000, 100, 600_000),
  };
}
