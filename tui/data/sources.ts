/**
 * The live sources: for each stream, the list that (re)starts it, the Watch RPC and
 * the reducer. Lists page until done (capped), so a resync is the whole picture.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Task,
  TaskState,
  type WatchQueuesResponse,
  type WatchTasksResponse,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { WatchWorkersResponse, WorkerInfo } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import {
  type Suggestion,
  SuggestionEventKind,
  SuggestionStatus,
  type WatchSuggestionsResponse,
} from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { type Clients, UNARY_TIMEOUT_MS } from "./clients.ts";
import type { Clock } from "./clock.ts";
import { countFinished, EMPTY_THROUGHPUT, startCounting, type Throughput } from "./throughput.ts";
import { type LiveSource, RESYNC } from "./live_store.ts";
import { applySnapshot, EMPTY_QUEUES, type QueuesState, reduceQueues } from "./queues_reducer.ts";
import {
  EMPTY_SUGGESTIONS,
  reduceSuggestions,
  suggestionsFromList,
  type SuggestionsState,
} from "./suggestions_reducer.ts";
import { matchesServerPart, type TaskQuery } from "./task_filter.ts";
import {
  EMPTY_TASK_LIST,
  MAX_TASKS,
  newestCreatedFirst,
  newestUpdatedFirst,
  reduceTaskList,
  type TaskList,
  type TaskListRules,
} from "./task_list_reducer.ts";
import { applyWorkers, EMPTY_WORKERS, reduceWorkers, type WorkersState } from "./workers_reducer.ts";

/** How often the server may send queue and worker snapshots. */
export const SNAPSHOT_INTERVAL_MS = 500;
const PAGE = 1000;

/** Reads every page of a list RPC, up to `max` items. */
export async function readPages<T>(
  page: (token: string) => Promise<{ items: T[]; next: string }>,
  max = Infinity,
): Promise<{ items: T[]; truncated: boolean }> {
  const items: T[] = [];
  let token = "";
  do {
    const got = await page(token);
    items.push(...got.items);
    token = got.next;
  } while (token && items.length < max);
  return { items: items.slice(0, max), truncated: items.length > max || token !== "" };
}

export function queuesSource(clients: Clients): LiveSource<QueuesState, WatchQueuesResponse> {
  return {
    name: "queues",
    empty: EMPTY_QUEUES,
    async list(signal, previous) {
      const { items } = await readPages(async (pageToken) => {
        const r = await clients.tasks.listQueues({ pageSize: PAGE, pageToken }, {
          signal,
          timeoutMs: UNARY_TIMEOUT_MS,
        });
        return { items: r.queues, next: r.nextPageToken };
      });
      return applySnapshot(previous, items, undefined);
    },
    watch: (signal) =>
      clients.tasks.watchQueues({ interval: durationFromMs(SNAPSHOT_INTERVAL_MS) }, { signal }),
    reduce: reduceQueues,
  };
}

export function workersSource(clients: Clients): LiveSource<WorkersState, WatchWorkersResponse> {
  return {
    name: "workers",
    empty: EMPTY_WORKERS,
    async list(signal, previous) {
      const { items } = await readPages<WorkerInfo>(async (pageToken) => {
        const r = await clients.workers.listWorkers({ pageSize: PAGE, pageToken }, {
          signal,
          timeoutMs: UNARY_TIMEOUT_MS,
        });
        return { items: r.workers, next: r.nextPageToken };
      });
      return applyWorkers(previous, items, Date.now());
    },
    watch: (signal) =>
      clients.workers.watchWorkers({ interval: durationFromMs(SNAPSHOT_INTERVAL_MS) }, { signal }),
    reduce: (state, events) => reduceWorkers(state, events, Date.now()),
  };
}

/** Tasks matching the server-side part of a query (queue, state, type), newest first. */
export function tasksSource(
  clients: Clients,
  query: TaskQuery,
  max = MAX_TASKS,
): LiveSource<TaskList, WatchTasksResponse> {
  const rules: TaskListRules = {
    matches: (t) => matchesServerPart(t, query),
    order: newestCreatedFirst,
    max,
  };
  return {
    name: "tasks",
    empty: EMPTY_TASK_LIST,
    async list(signal) {
      const { items, truncated } = await readPages<Task>(async (pageToken) => {
        const r = await clients.tasks.listTasks({
          pageSize: PAGE,
          pageToken,
          queue: query.queue ?? "",
          state: query.state ?? TaskState.UNSPECIFIED,
          type: query.type ?? "",
        }, { signal, timeoutMs: UNARY_TIMEOUT_MS });
        return { items: r.tasks, next: r.nextPageToken };
      }, max);
      return { tasks: items, truncated };
    },
    // Not filtered by state on the server: a task leaving the state must leave the list too.
    watch: (signal) => clients.tasks.watchTasks({ queue: query.queue ?? "" }, { signal }),
    reduce: (state, events) => reduceTaskList(state, events, rules),
  };
}

/** Dead letters of every queue, most recently dead first. */
export function deadLettersSource(
  clients: Clients,
  max = MAX_TASKS,
): LiveSource<TaskList, WatchTasksResponse> {
  const rules: TaskListRules = {
    matches: (t) => t.state === TaskState.DEAD,
    order: newestUpdatedFirst,
    max,
  };
  return {
    name: "dead letters",
    empty: EMPTY_TASK_LIST,
    async list(signal) {
      const { items, truncated } = await readPages<Task>(async (pageToken) => {
        const r = await clients.tasks.listDeadLetters({ pageSize: PAGE, pageToken }, {
          signal,
          timeoutMs: UNARY_TIMEOUT_MS,
        });
        return { items: r.tasks, next: r.nextPageToken };
      }, max);
      return { tasks: items, truncated };
    },
    // Every change, not only to dead: a requeued task must leave the list.
    watch: (signal) => clients.tasks.watchTasks({}, { signal }),
    reduce: (state, events) => reduceTaskList(state, events, rules),
  };
}

/**
 * Attempts finished per queue, counted as WatchTasks reports them, on the TUI's clock.
 * Nothing to list: counting starts afresh on every (re)connect.
 */
export function throughputSource(clients: Clients, clock: Clock): LiveSource<Throughput, WatchTasksResponse> {
  return {
    name: "rates",
    empty: EMPTY_THROUGHPUT,
    list: () => Promise.resolve(startCounting(clock.now())),
    watch: (signal) => clients.tasks.watchTasks({}, { signal }),
    reduce: (state, events) =>
      events.some((e) => e.overflow) ? RESYNC : countFinished(state, events, clock.now()),
  };
}

/** Whether a suggestion event changed the tag tree (an approval or a mapping). */
export function changedTree(event: WatchSuggestionsResponse): boolean {
  const status = event.suggestion?.status;
  return event.kind === SuggestionEventKind.DECIDED &&
    (status === SuggestionStatus.APPROVED || status === SuggestionStatus.MAPPED);
}

/** `onTreeChanged` hears of approvals and mappings, whoever made them. */
export function suggestionsSource(
  clients: Clients,
  onTreeChanged: () => void = () => {},
): LiveSource<SuggestionsState, WatchSuggestionsResponse> {
  return {
    name: "suggestions",
    empty: EMPTY_SUGGESTIONS,
    async list(signal) {
      const { items } = await readPages<Suggestion>(async (pageToken) => {
        const r = await clients.tags.listSuggestions({
          pageSize: PAGE,
          pageToken,
          status: SuggestionStatus.PENDING,
        }, { signal, timeoutMs: UNARY_TIMEOUT_MS });
        return { items: r.suggestions, next: r.nextPageToken };
      });
      return suggestionsFromList(items);
    },
    async *watch(signal) {
      for await (const event of clients.tags.watchSuggestions({}, { signal })) {
        if (changedTree(event)) onTreeChanged();
        yield event;
      }
    },
    reduce: reduceSuggestions,
  };
}
