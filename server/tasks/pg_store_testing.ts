/** Shared by the Postgres TaskStore tests: a valid NewTask with overrides, and error matchers. */
import { type Code, ConnectError } from "@connectrpc/connect";
import type { NewTask } from "./model.ts";

/** The clock's start in every store test. */
export const T0 = Date.UTC(2026, 5, 1, 12);

export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    queue: "default",
    type: "noop",
    payload: new TextEncoder().encode("{}"),
    priority: 0,
    runAt: T0,
    maxAttempts: 3,
    backoff: { initialMs: 1000, maxMs: 60_000, multiplier: 2 },
    timeoutMs: 60_000,
    idempotencyKey: "",
    labels: {},
    dependsOn: [],
    dependsOnBatchIndex: [],
    condition: "on_success",
    ...overrides,
  };
}

/** For assert.rejects: a ConnectError with this code, and a message matching `text` when given. */
export function hasCode(code: Code, text?: RegExp): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ConnectError && e.code === code && (!text || text.test(e.message));
}

/** A `random` for transitions that must not draw one (success, dead, stale). */
export function never(): number {
  throw new Error("random must not be called here");
}

/**
 * Lets every promise continuation queued so far run (a bounded number of microtask turns, no
 * timer): what is still unsettled after it waits on I/O, a wake-up or the clock.
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 100; i++) await Promise.resolve();
}
