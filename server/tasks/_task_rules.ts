/**
 * The task runtime's rules that need no database: when a waiting task may run, how long
 * a retry waits, and the opaque page tokens of task lists.
 */
import { decodePageToken, encodePageToken } from "../kit/paging.ts";
import type { DependencyCondition, TaskState } from "./model.ts";

/** Task ids are UUIDs; anything else names no task (and must not reach a uuid cast). */
export const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Verdict = "release" | "cancel" | "wait";

/** Whether a waiting task may run, never will, or must go on waiting, given its dependencies' states. */
export function judgeDependencies(condition: DependencyCondition, states: readonly TaskState[]): Verdict {
  const ended = states.every((s) => s === "succeeded" || s === "dead" || s === "cancelled");
  switch (condition) {
    case "on_success":
      if (states.some((s) => s === "dead" || s === "cancelled")) return "cancel";
      return states.every((s) => s === "succeeded") ? "release" : "wait";
    case "on_failure":
      if (states.some((s) => s === "succeeded")) return "cancel";
      return ended ? "release" : "wait";
    case "always":
      return ended ? "release" : "wait";
  }
}

/** Full jitter: uniform in [0, min(max, initial × multiplier^(attempt − 1))). */
export function retryDelayMs(
  backoff: { initialMs: number; maxMs: number; multiplier: number },
  attempt: number,
  random: () => number,
): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** The keyset position after the last row, (created_at, seq), as a paging-kit token. */
export function encodeTaskPageToken(position: { createdAt: number; seq: number }): string {
  return encodePageToken({ list: "tasks" }, [position.createdAt, position.seq]);
}

export function decodeTaskPageToken(token: string): { createdAt: number; seq: number } | undefined {
  const position = decodePageToken(token, { list: "tasks" }, ["int", "int"]);
  return position && { createdAt: position[0] as number, seq: position[1] as number };
}
