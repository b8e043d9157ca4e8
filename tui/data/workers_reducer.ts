/** Connected workers, as WatchWorkers snapshots them. Pure. */
import type { WatchWorkersResponse, WorkerInfo } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";

export interface WorkersState {
  workers: readonly WorkerInfo[];
  snapshots: number;
  /**
   * When the last snapshot arrived. WatchWorkers does not send a snapshot for a heartbeat
   * alone, so an active worker's heartbeat time is as of this moment, not of now.
   */
  receivedAt: number;
}

export const EMPTY_WORKERS: WorkersState = { workers: [], snapshots: 0, receivedAt: 0 };

export function applyWorkers(state: WorkersState, workers: readonly WorkerInfo[], now: number): WorkersState {
  return {
    workers: [...workers].sort((a, b) => a.id.localeCompare(b.id)),
    snapshots: state.snapshots + 1,
    receivedAt: now,
  };
}

/** Each snapshot is the whole picture: the last one of a batch wins. */
export function reduceWorkers(
  state: WorkersState,
  events: readonly WatchWorkersResponse[],
  now: number,
): WorkersState {
  const last = events.at(-1);
  return last ? applyWorkers(state, last.workers, now) : state;
}
