/**
 * Tasks finished and attempts failed per queue, counted from WatchTasks events into
 * one-second buckets on the TUI's clock: the recent rates (OK/S, FAIL/S over the last
 * 10 s) and the trend. The server's QueueInfo rates are averages over a minute, which
 * lag a drain by tens of seconds and keep showing work a minute after a pause. Pure.
 */
import { TaskState, type WatchTasksResponse } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";

/** The window OK/S and FAIL/S are averaged over. */
export const RATE_WINDOW_MS = 10_000;
const BUCKET_MS = 1000;
/** Buckets kept per queue: the longest trend. */
export const KEPT_SECONDS = 60;

/** Finished in one second: [succeeded, failed attempts]. */
type Bucket = readonly [number, number];

export interface Throughput {
  /** Per queue, per second (ms / 1000, floored). */
  buckets: ReadonlyMap<string, ReadonlyMap<number, Bucket>>;
  /** When counting began (the watch went live): rates are not averaged over time before it. */
  since: number | undefined;
}

export const EMPTY_THROUGHPUT: Throughput = { buckets: new Map(), since: undefined };

const FAILED_FROM_RUNNING = new Set([
  TaskState.SCHEDULED,
  TaskState.QUEUED,
  TaskState.DEAD,
  TaskState.FAILED,
]);

/** Counting starts afresh at `now` (a (re)connect: what happened while away is unknown). */
export function startCounting(now: number): Throughput {
  return { buckets: new Map(), since: now };
}

/** Counts the attempts these events finished, at `now`. */
export function countFinished(
  state: Throughput,
  events: readonly WatchTasksResponse[],
  now: number,
): Throughput {
  const second = Math.floor(now / BUCKET_MS);
  const added = new Map<string, [number, number]>();
  for (const { task, previousState } of events) {
    if (!task || previousState !== TaskState.RUNNING) continue;
    const ok = task.state === TaskState.SUCCEEDED;
    if (!ok && !FAILED_FROM_RUNNING.has(task.state)) continue;
    const queue = task.spec?.queue ?? "default";
    const count = added.get(queue) ?? [0, 0];
    count[ok ? 0 : 1]++;
    added.set(queue, count);
  }
  if (added.size === 0) return state;
  const buckets = new Map(state.buckets);
  for (const [queue, [ok, failed]] of added) {
    const before = state.buckets.get(queue) ?? new Map<number, Bucket>();
    const next = new Map<number, Bucket>();
    for (const [s, b] of before) if (s > second - KEPT_SECONDS) next.set(s, b);
    const [o, f] = next.get(second) ?? [0, 0];
    next.set(second, [o + ok, f + failed]);
    buckets.set(queue, next);
  }
  return { ...state, buckets };
}

/** Per second over the last RATE_WINDOW_MS (or since counting began, if later): [ok, failed]. */
export function recentRates(state: Throughput, queue: string, now: number): { ok: number; failed: number } {
  const second = Math.floor(now / BUCKET_MS);
  const window = RATE_WINDOW_MS / BUCKET_MS;
  let ok = 0;
  let failed = 0;
  for (const [s, [o, f]] of state.buckets.get(queue) ?? []) {
    if (s > second - window && s <= second) {
      ok += o;
      failed += f;
    }
  }
  const counted = state.since === undefined ? RATE_WINDOW_MS : now - state.since;
  const seconds = Math.min(RATE_WINDOW_MS, Math.max(BUCKET_MS, counted)) / 1000;
  return { ok: ok / seconds, failed: failed / seconds };
}

/** Tasks succeeded in each of the last `seconds` seconds, oldest first. */
export function okSeries(state: Throughput, queue: string, now: number, seconds: number): number[] {
  const second = Math.floor(now / BUCKET_MS);
  const buckets = state.buckets.get(queue);
  return Array.from({ length: seconds }, (_, i) => buckets?.get(second - seconds + 1 + i)?.[0] ?? 0);
}
