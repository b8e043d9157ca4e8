/**
 * The schedules, re-read every SCHEDULES_POLL_MS on the TUI's clock: the contract has no
 * WatchSchedules stream, and a schedule changes on its ticks (seconds apart at the
 * least), so a short poll keeps the view as fresh as a stream would. Each read is one
 * snapshot event; the countdowns on screen move with the clock between reads.
 */
import type { Schedule } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { type Clients, UNARY_TIMEOUT_MS } from "./clients.ts";
import type { Clock } from "./clock.ts";
import type { LiveSource } from "./live_store.ts";
import { readPages } from "./sources.ts";

export const SCHEDULES_POLL_MS = 2000;
const MAX_SCHEDULES = 10_000;

export interface SchedulesState {
  schedules: Schedule[];
  /** Clock ms of the read they come from. */
  readAt: number;
}

export const EMPTY_SCHEDULES: SchedulesState = { schedules: [], readAt: 0 };

async function readAll(clients: Clients, signal: AbortSignal): Promise<Schedule[]> {
  const { items } = await readPages<Schedule>(async (pageToken) => {
    const r = await clients.tasks.listSchedules({ pageSize: 1000, pageToken }, {
      signal,
      timeoutMs: UNARY_TIMEOUT_MS,
    });
    return { items: r.schedules, next: r.nextPageToken };
  }, MAX_SCHEDULES);
  return items;
}

export function schedulesSource(clients: Clients, clock: Clock): LiveSource<SchedulesState, SchedulesState> {
  return {
    name: "schedules",
    empty: EMPTY_SCHEDULES,
    list: async (signal) => ({ schedules: await readAll(clients, signal), readAt: clock.now() }),
    async *watch(signal) {
      while (!signal.aborted) {
        await clock.sleep(SCHEDULES_POLL_MS, signal);
        yield { schedules: await readAll(clients, signal), readAt: clock.now() };
      }
    },
    reduce: (_state, events) => events.at(-1)!,
  };
}
