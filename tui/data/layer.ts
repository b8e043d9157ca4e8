/**
 * The data layer a TUI session runs on: clients calling as the session, one live
 * store per stream, the tag tree, the actions, and the loop that keeps the access
 * token fresh. Stores start when first wanted (a view mounts) and run until `stop`.
 */
import type { WatchQueuesResponse, WatchTasksResponse } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { WatchWorkersResponse } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import type { WatchSuggestionsResponse } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import type { Transport } from "@connectrpc/connect";
import { type Actions, createActions } from "./actions.ts";
import { AlertsStore } from "./alerts.ts";
import type { BackoffOptions } from "./backoff.ts";
import { canWatchSuggestions, type Capabilities, capabilitiesOf } from "./capabilities.ts";
import { type Clients, createClients } from "./clients.ts";
import type { CampaignEvent, CampaignsState } from "./campaigns_reducer.ts";
import { campaignsSource } from "./campaigns_source.ts";
import { type Clock, systemClock } from "./clock.ts";
import { LiveStore, type LiveStoreOptions } from "./live_store.ts";
import type { QueuesState } from "./queues_reducer.ts";
import type { Session } from "./session.ts";
import {
  deadLettersSource,
  queuesSource,
  suggestionsSource,
  tasksSource,
  throughputSource,
  workersSource,
} from "./sources.ts";
import type { Throughput } from "./throughput.ts";
import type { SuggestionsState } from "./suggestions_reducer.ts";
import type { TaskQuery } from "./task_filter.ts";
import type { TaskList } from "./task_list_reducer.ts";
import { TagTreeStore } from "./tag_tree.ts";
import type { WorkersState } from "./workers_reducer.ts";
import { schedulesSource, type SchedulesState } from "./schedules_source.ts";

export interface DataLayerOptions {
  url: string;
  session: Session;
  readOnly?: boolean;
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Most tasks a list holds (default 10,000). */
  maxTasks?: number;
  /** Calls go over this transport rather than gRPC to `url` (component tests feed views with it). */
  transport?: Transport;
  /** How often the campaigns are listed again (default 3 s). */
  campaignPollMs?: number;
}

export interface DataLayer {
  url: string;
  session: Session;
  clients: Clients;
  readOnly: boolean;
  /** The TUI's clock: rates and refreshes are computed on it. */
  clock: Clock;
  capabilities(): Capabilities;
  queues: LiveStore<QueuesState, WatchQueuesResponse>;
  workers: LiveStore<WorkersState, WatchWorkersResponse>;
  /** Attempts finished per queue and second (OK/S, FAIL/S, trend). */
  throughput: LiveStore<Throughput, WatchTasksResponse>;
  tasks: LiveStore<TaskList, WatchTasksResponse>;
  deadLetters: LiveStore<TaskList, WatchTasksResponse>;
  /** The schedules, re-read every few seconds (schedules_source.ts). */
  schedules: LiveStore<SchedulesState, SchedulesState>;
  /** Only for admins: the approval queue is theirs alone. */
  suggestions: LiveStore<SuggestionsState, WatchSuggestionsResponse> | undefined;
  /** Campaigns with their live figures. */
  campaigns: LiveStore<CampaignsState, CampaignEvent>;
  tagTree: TagTreeStore;
  /** Alert rules and firing alerts, read while a view shows them. */
  alerts: AlertsStore;
  actions: Actions;
  /** The Tasks view's server-side filter. */
  taskQuery(): TaskQuery;
  /** Changes it: the tasks are listed and watched again. */
  setTaskQuery(query: TaskQuery): void;
  stores(): LiveStore<unknown, unknown>[];
  stop(): Promise<void>;
}

export function createDataLayer(options: DataLayerOptions): DataLayer {
  const { url, session } = options;
  const clock = options.clock ?? systemClock;
  const readOnly = options.readOnly ?? false;
  const clients = createClients(url, session, options.transport);
  const storeOptions: LiveStoreOptions = {
    clock,
    backoff: options.backoff,
    onUnauthenticated: () => session.refresh(),
  };
  const queues = new LiveStore(queuesSource(clients), storeOptions);
  const workers = new LiveStore(workersSource(clients), storeOptions);
  const throughput = new LiveStore(throughputSource(clients, clock), storeOptions);
  const tasks = new LiveStore(tasksSource(clients, { words: [] }, options.maxTasks), storeOptions);
  const deadLetters = new LiveStore(deadLettersSource(clients, options.maxTasks), storeOptions);
  const campaigns = new LiveStore(campaignsSource(clients, clock, options.campaignPollMs), storeOptions);
  const schedules = new LiveStore(schedulesSource(clients, clock), storeOptions);
  const tagTree = new TagTreeStore(clients, clock);
  const suggestions = canWatchSuggestions(session.identity)
    ? new LiveStore(suggestionsSource(clients, () => void tagTree.reload()), storeOptions)
    : undefined;
  let taskQuery: TaskQuery = { words: [] };
  const refresher = new AbortController();
  void session.keepFresh(refresher.signal);
  const all = [queues, workers, throughput, tasks, deadLetters, schedules, campaigns, suggestions].filter((
    s,
  ) => s !== undefined) as LiveStore<
    unknown,
    unknown
  >[];
  return {
    url,
    session,
    clients,
    readOnly,
    clock,
    capabilities: () => capabilitiesOf(session.identity, readOnly),
    queues,
    workers,
    throughput,
    tasks,
    deadLetters,
    schedules,
    suggestions,
    campaigns,
    tagTree,
    alerts: new AlertsStore(clients, clock),
    actions: createActions(clients),
    taskQuery: () => taskQuery,
    setTaskQuery(query) {
      taskQuery = query;
      const source = tasksSource(clients, query, options.maxTasks);
      tasks.restart({ list: source.list, watch: source.watch, reduce: source.reduce });
    },
    stores: () => all,
    async stop() {
      refresher.abort();
      await Promise.all(all.map((s) => s.stop()));
    },
  };
}
