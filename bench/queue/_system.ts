/**
 * What the phases need from a queue system, so taskmesh and its peers (BullMQ on two
 * Redis servers, graphile-worker, pg-boss) go through the very same steps, and the small
 * helpers every side uses.
 */
import type { Child } from "./_child.ts";

export interface WorkerSpec {
  queue: string;
  concurrency: number;
  id: string;
  /** Print one "task started" line per handler start (see StartLog). */
  logStarts: boolean;
}

/** The first handler start and the last finish of a queue's tasks, as the system recorded them. */
export interface Window {
  count: number;
  firstStartMs: number;
  lastFinishMs: number;
}

/** Tasks accepted and the wall time it took (performance.now() ms). */
export interface Timed {
  count: number;
  ms: number;
}

/** The systems the bench knows, in the order its table shows them. */
export const SYSTEMS = ["taskmesh", "bullmq", "bullmq-aof", "graphile-worker", "pg-boss"] as const;
export type SystemName = typeof SYSTEMS[number];

export const LABELS: Record<SystemName, string> = {
  taskmesh: "taskmesh",
  bullmq: "BullMQ",
  "bullmq-aof": "BullMQ (AOF always)",
  "graphile-worker": "graphile-worker",
  "pg-boss": "pg-boss",
};

/** Phases a system cannot take part in, each with the reason the table gives. */
export type Skips = Partial<Record<"requeue", string>>;

export interface QueueSystem {
  readonly name: SystemName;
  /** The process that serves clients and workers, where the system has one of its own (taskmesh's server). */
  readonly serverPid?: number;
  readonly skips: Skips;
  /** How this system is set up, for the report's notes. */
  readonly note: string;
  /** A clean slate between phases: no tasks left anywhere, the system's Redis database flushed. */
  reset(): Promise<void>;
  /** `n` noop tasks, one call each, `concurrency` calls in flight; no new call after `stopAt`. */
  enqueueSingle(queue: string, n: number, concurrency: number, stopAt: number): Promise<Timed>;
  /** `n` noop tasks in batches of `batch`, one batch at a time; no new batch after `stopAt`. */
  enqueueBatched(queue: string, n: number, batch: number, stopAt: number): Promise<Timed>;
  /** One task; resolves with its id once the call returned. */
  enqueueOne(queue: string, type: "noop" | "sleep", payload: unknown): Promise<string>;
  /** A worker process, resolved once the system sees it connected. */
  startWorker(spec: WorkerSpec): Promise<Child>;
  /** Resolves once `n` tasks of the queue have succeeded or at `stopAt`; throws on a failure. */
  waitSucceeded(queue: string, n: number, stopAt: number): Promise<void>;
  window(queue: string): Promise<Window>;
  /**
   * The system's own record of when each task's latest attempt started (ms since the epoch);
   * null when it keeps none (graphile-worker deletes a job once it completes).
   */
  recordedStarts(queue: string, ids: string[]): Promise<Map<string, number> | null>;
  close(): Promise<void>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns true; throws with `what` after `timeoutMs`. */
export async function poll(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Runs `task(i)` for i in [0, n) with at most `concurrency` in flight, starting none after
 * `stopAt` (a performance.now() time); `size(i)` is how many tasks call i accepts.
 */
export async function inFlight(
  n: number,
  concurrency: number,
  stopAt: number,
  task: (i: number) => Promise<unknown>,
  size: (i: number) => number = () => 1,
): Promise<Timed> {
  let next = 0;
  let count = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n && performance.now() < stopAt) {
      const i = next++;
      await task(i);
      count += size(i);
    }
  }));
  return { count, ms: performance.now() - started };
}

/** Resolves when `check` returns true or at `stopAt` (a performance.now() time), polling every `everyMs`. */
export async function pollUntil(check: () => Promise<boolean>, stopAt: number, everyMs = 200): Promise<void> {
  while (!(await check()) && performance.now() < stopAt) await sleep(everyMs);
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
