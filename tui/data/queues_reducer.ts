/**
 * Queue figures as WatchQueues sends them, plus a short history per queue for the
 * sparklines and the "growing" warnings. Pure: tests feed it snapshots.
 */
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { QueueInfo, WatchQueuesResponse } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";

/** Samples kept per queue: the width of a sparkline. */
export const HISTORY = 30;

export interface QueueHistory {
  /** Tasks succeeded per second, one sample per snapshot. */
  processed: number[];
  /** Attempts failed per second. */
  failed: number[];
  /** Dead letters. */
  dead: number[];
}

export interface QueueRow {
  name: string;
  paused: boolean;
  waiting: number;
  scheduled: number;
  queued: number;
  running: number;
  dead: number;
  oldestQueuedMs: number;
  processedPerSecond: number;
  failedPerSecond: number;
  concurrencyLimit: number;
  rateLimitPerSecond: number;
  workerCount: number;
}

export interface QueuesState {
  queues: QueueRow[];
  /** Workers connected to the server; undefined until a snapshot said. */
  workerCount: number | undefined;
  history: Readonly<Record<string, QueueHistory>>;
  /** Snapshots seen: the views say "waiting for data" until the first. */
  snapshots: number;
}

export const EMPTY_QUEUES: QueuesState = { queues: [], workerCount: undefined, history: {}, snapshots: 0 };

export function queueRow(q: QueueInfo): QueueRow {
  return {
    name: q.name,
    paused: q.paused,
    waiting: Number(q.waiting),
    scheduled: Number(q.scheduled),
    queued: Number(q.queued),
    running: Number(q.running),
    dead: Number(q.dead),
    oldestQueuedMs: q.oldestQueuedAge ? durationMs(q.oldestQueuedAge) : 0,
    processedPerSecond: q.processedPerSecond,
    failedPerSecond: q.failedPerSecond,
    concurrencyLimit: q.concurrencyLimit,
    rateLimitPerSecond: q.rateLimitPerSecond,
    workerCount: q.workerCount,
  };
}

const push = (samples: number[] | undefined, value: number) => [...(samples ?? []), value].slice(-HISTORY);

/** Takes in one full picture of the queues (a snapshot or a fresh list), extending the history. */
export function applySnapshot(
  state: QueuesState,
  queues: readonly QueueInfo[],
  workerCount: number | undefined,
): QueuesState {
  const rows = queues.map(queueRow).sort((a, b) => a.name.localeCompare(b.name));
  const history: Record<string, QueueHistory> = {};
  for (const row of rows) {
    const before = state.history[row.name];
    history[row.name] = {
      processed: push(before?.processed, row.processedPerSecond),
      failed: push(before?.failed, row.failedPerSecond),
      dead: push(before?.dead, row.dead),
    };
  }
  return {
    queues: rows,
    workerCount: workerCount ?? state.workerCount,
    history,
    snapshots: state.snapshots + 1,
  };
}

export function reduceQueues(state: QueuesState, events: readonly WatchQueuesResponse[]): QueuesState {
  return events.reduce((s, e) => applySnapshot(s, e.queues, e.workerCount), state);
}
