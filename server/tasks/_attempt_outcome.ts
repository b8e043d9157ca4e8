/**
 * How a failed Result ends its attempt. A worker aborts a handler at the attempt's
 * deadline and reports the error code "timeout" (docs/WORKERS.md); such an attempt
 * exceeded its timeout, so it ends TIMED_OUT as the contract says, not FAILED. The
 * server's clock must agree that the deadline has come (within CLOCK_SLACK_MS, for a
 * worker whose clock runs a little ahead), so a handler's own error that happens to use
 * the code "timeout" (a slow HTTP call) early in the attempt is still a failure.
 */
import type { TaskError } from "./model.ts";

export const TIMEOUT_CODE = "timeout";
export const CLOCK_SLACK_MS = 1_000;

export function attemptTimedOut(error: TaskError, deadline: number, now: number): boolean {
  return error.code === TIMEOUT_CODE && now >= deadline - CLOCK_SLACK_MS;
}
