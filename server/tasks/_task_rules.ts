/**
 * The task runtime's rules that need no database: when a waiting task may run, how long
 * a retry waits, and the opaque page tokens of task lists.
 */
import { Code, ConnectError } from "@connectrpc/connect";
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

const badPageToken = () =>
  new ConnectError(
    "page_token is not a token this list returned: pass next_page_token unchanged, or none for the first page",
    Code.InvalidArgument,
  );

/** base64url of the last row's (created_at, seq): the keyset position after it. */
export function encodeTaskPageToken(position: { createdAt: number; seq: number }): string {
  return btoa(JSON.stringify([position.createdAt, position.seq]))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeTaskPageToken(token: string): { createdAt: number; seq: number } | undefined {
  if (token === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(atob(token.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    throw badPageToken();
  }
  if (
    !Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((n) => Number.isSafeInteger(n) && n >= 0)
  ) {
    throw badPageToken();
  }
  return { createdAt: parsed[0], seq: parsed[1] };
}
