/**
 * TaskService and WorkerService over the task runtime. Every accepted task is in
 * Postgres before Enqueue answers; the broker is told afterwards, and if that fails
 * the reconciler puts it right, so an OK answer never loses a task.
 */
import { create } from "@bufbuild/protobuf";
import { type Duration, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import {
  TaskService,
  TaskStateSchema,
  type WatchTasksResponse,
  WatchTasksResponseSchema,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { type WorkerInfo, WorkerService, WorkerState } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { callerOf } from "../auth/caller.ts";
import { queueToProto, stateFromProto, stateToProto, taskToProto } from "./_convert.ts";
import {
  CANCEL_REASON_MAX_CHARS,
  invalid,
  toNewTask,
  toNewTasks,
  validLabels,
  validQueue,
  validTaskId,
  validType,
} from "./_spec.ts";
import { decodePageToken, encodePageToken, pageSize } from "../kit/paging.ts";
import { duration, enumValue, text } from "../kit/validate.ts";
import type { TasksRuntime } from "./runtime.ts";
import type { WorkerEntry } from "./runtime.ts";
import { runWorkerSession } from "./worker_stream.ts";
import { limitsServiceImpl } from "./limits_service.ts";
import { TypeDefaultsCache } from "./type_defaults.ts";
import { taskTraceparent } from "../observability/tracing.ts";

const WATCH_BUFFER = 1000;

/** Least and most time between two snapshots of WatchQueues and WatchWorkers. */
export const WATCH_INTERVAL_MS = { min: 250, max: 3600_000, default: 1000 };
/** DrainWorker's grace. */
export const DRAIN_GRACE_MS = { min: 0, max: 24 * 3600_000, default: 30_000 };
export const WORKER_ID_MAX_CHARS = 128;

/** A watch's interval: unset is the default, shorter than the least is raised to it, longer than the most refused. */
function watchInterval(interval: Duration | undefined): number {
  const ms = duration("interval", interval, { min: 0, max: WATCH_INTERVAL_MS.max });
  return ms === undefined || ms === 0 ? WATCH_INTERVAL_MS.default : Math.max(WATCH_INTERVAL_MS.min, ms);
}

function stateFilter(state: number, field = "state") {
  return stateFromProto(enumValue(field, TaskStateSchema, state));
}

/** Connected workers, on any instance, that serve the queue. */
function workersOn(workers: readonly WorkerEntry[], queue: string): number {
  return workers.filter((w) => w.queues.includes(queue)).length;
}

async function queueInfo(rt: TasksRuntime, name: string) {
  const stats = (await rt.queueStats()).find((q) => q.name === name);
  const workers = workersOn(await rt.workers(), name);
  return stats ? queueToProto(stats, workers) : queueToProto({
    name,
    paused: await rt.isPaused(name),
    waiting: 0,
    scheduled: 0,
    queued: 0,
    running: 0,
    dead: 0,
    oldestQueuedAgeMs: 0,
    processedPerSecond: 0,
    failedPerSecond: 0,
    concurrencyLimit: 0,
    ratePerSecond: 0,
    rateBurst: 0,
  }, workers);
}

function taskServiceImpl(
  rt: TasksRuntime,
  defaults: TypeDefaultsCache,
): Partial<ServiceImpl<typeof TaskService>> {
  return {
    async enqueue(req, ctx) {
      const task = toNewTask(
        req.task,
        rt.clock.now(),
        "task",
        await defaults.forTypes([req.task?.type ?? ""]),
      );
      task.traceparent = taskTraceparent(ctx.requestHeader);
      if (task.dependsOnBatchIndex.length > 0) {
        throw invalid(
          "task.depends_on_batch_index",
          "is for EnqueueBatch only: use depends_on with task ids",
        );
      }
      const { tasks, duplicates } = await rt.enqueue([task]);
      return { task: taskToProto(tasks[0]), duplicate: duplicates[0] };
    },
    async enqueueBatch(req, ctx) {
      const traceparent = taskTraceparent(ctx.requestHeader);
      const { tasks, duplicates } = await rt.enqueue(
        toNewTasks(req.tasks, rt.clock.now(), await defaults.forTypes(req.tasks.map((t) => t.type)))
          .map((t) => ({ ...t, traceparent })),
      );
      if (req.idsOnly) return { ids: tasks.map((t) => t.id), duplicates };
      return { tasks: tasks.map((t) => taskToProto(t)), duplicates };
    },
    async getTask(req) {
      const found = await rt.get(validTaskId(req.id));
      if (!found) throw new ConnectError(`task ${req.id} does not exist`, Code.NotFound);
      return { task: taskToProto(found.task, found.attempts) };
    },
    async listTasks(req) {
      const page = await rt.list(
        {
          queue: req.queue ? validQueue(req.queue) : undefined,
          state: stateFilter(req.state),
          type: req.type ? validType(req.type) : undefined,
          labels: Object.keys(req.labels).length ? validLabels(req.labels) : undefined,
        },
        pageSize(req.pageSize),
        req.pageToken,
      );
      return { tasks: page.items.map((t) => taskToProto(t)), nextPageToken: page.nextPageToken };
    },
    async cancelTask(req) {
      const task = await rt.cancel(
        validTaskId(req.id),
        text("reason", req.reason, { max: CANCEL_REASON_MAX_CHARS }),
      );
      return { task: taskToProto(task) };
    },
    async retryTask(req) {
      const task = await rt.retry(validTaskId(req.id));
      return { task: taskToProto(task) };
    },
    async listQueues(req) {
      const all = await rt.queueStats();
      const workers = await rt.workers();
      const size = pageSize(req.pageSize);
      const query = { list: "queues" };
      const after = (decodePageToken(req.pageToken, query, ["text"])?.[0] as string | undefined) ?? "";
      const page = all.filter((q) => q.name > after).slice(0, size);
      const last = page.at(-1);
      return {
        queues: page.map((q) => queueToProto(q, workersOn(workers, q.name))),
        nextPageToken: last && all.some((q) => q.name > last.name) ? encodePageToken(query, [last.name]) : "",
      };
    },
    async pauseQueue(req) {
      const queue = validQueue(req.queue);
      await rt.setPaused(queue, true);
      return { queue: await queueInfo(rt, queue) };
    },
    async resumeQueue(req) {
      const queue = validQueue(req.queue);
      await rt.setPaused(queue, false);
      return { queue: await queueInfo(rt, queue) };
    },
    async listDeadLetters(req) {
      const page = await rt.listDead(
        req.queue ? validQueue(req.queue) : undefined,
        pageSize(req.pageSize),
        req.pageToken,
      );
      return { tasks: page.items.map((t) => taskToProto(t)), nextPageToken: page.nextPageToken };
    },
    async requeueDeadLetters(req) {
      const ids = req.taskIds.map((id, i) => validTaskId(id, `task_ids[${i}]`));
      if (req.all && !req.queue) throw invalid("queue", "is required with all");
      const tasks = await rt.requeueDead(req.queue ? validQueue(req.queue) : "", ids, req.all);
      return { requeued: BigInt(tasks.length) };
    },
    async purgeDeadLetters(req) {
      const ids = req.taskIds.map((id, i) => validTaskId(id, `task_ids[${i}]`));
      if (req.all && !req.queue) throw invalid("queue", "is required with all");
      const tasks = await rt.purgeDead(req.queue ? validQueue(req.queue) : "", ids, req.all);
      return { purged: BigInt(tasks.length) };
    },
    async *watchTasks(req, ctx) {
      const queue = req.queue ? validQueue(req.queue) : undefined;
      const ids = new Set(req.taskIds.map((id, i) => validTaskId(id, `task_ids[${i}]`)));
      const state = stateFilter(req.state);
      const buffer: WatchTasksResponse[] = [];
      let overflow = false;
      let wake: (() => void) | undefined;
      const off = rt.onTask((task, previous) => {
        if (queue && task.queue !== queue) return;
        if (ids.size && !ids.has(task.id)) return;
        if (state && task.state !== state) return;
        if (buffer.length >= WATCH_BUFFER) overflow = true;
        else {
          buffer.push(create(WatchTasksResponseSchema, {
            task: taskToProto(task),
            previousState: previous ? stateToProto(previous) : undefined,
          }));
        }
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        while (!ctx.signal.aborted) {
          if (overflow) {
            // The client fell behind: say so once and let it resync with ListTasks.
            buffer.length = 0;
            overflow = false;
            yield create(WatchTasksResponseSchema, { overflow: true });
            continue;
          }
          const next = buffer.shift();
          if (next) {
            yield next;
            continue;
          }
          await new Promise<void>((resolve) => wake = resolve);
          wake = undefined;
        }
      } finally {
        off();
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
    async *watchQueues(req, ctx) {
      const interval = watchInterval(req.interval);
      let last = "";
      while (!ctx.signal.aborted) {
        const stats = await rt.queueStats();
        const workers = await rt.workers();
        const snapshot = {
          queues: stats.map((q) => queueToProto(q, workersOn(workers, q.name))),
          workerCount: workers.length,
        };
        const key = JSON.stringify([
          stats.map((q) => ({ ...q, oldestQueuedAgeMs: 0 })),
          workers.map((w) => w.queues),
        ]);
        if (key !== last) {
          last = key;
          yield snapshot;
        }
        await rt.clock.sleep(interval, ctx.signal).catch(() => {});
      }
    },
  };
}

function workerInfo(w: WorkerEntry, now: number, leaseTtlMs: number): WorkerInfo {
  const silent = now - w.lastHeartbeat > leaseTtlMs;
  return {
    $typeName: "taskmesh.tasks.v1.WorkerInfo",
    id: w.id,
    queues: w.queues,
    concurrency: w.concurrency,
    activeTaskIds: w.activeTaskIds,
    lastHeartbeatTime: timestampFromMs(w.lastHeartbeat),
    version: w.version,
    state: w.draining ? WorkerState.DRAINING : silent ? WorkerState.SILENT : WorkerState.ACTIVE,
    labels: w.labels,
    load: w.load,
    connectTime: timestampFromMs(w.connectedAt),
    serverId: w.serverId,
  };
}

/** `schedules` implements the schedule RPCs (server/schedules/schedule_service.ts). */
export function registerTaskServices(
  router: ConnectRouter,
  rt: TasksRuntime,
  schedules: Partial<ServiceImpl<typeof TaskService>> = {},
): void {
  const defaults = new TypeDefaultsCache((after, limit) => rt.typeDefaults(after, limit), rt.clock);
  router.service(TaskService, {
    ...taskServiceImpl(rt, defaults),
    ...limitsServiceImpl(rt, defaults, (name) => queueInfo(rt, name)),
    ...schedules,
  });
  router.service(WorkerService, {
    connect: (requests, ctx) => {
      const caller = callerOf(ctx);
      const owner = caller.kind === "api_key" ? caller.ownerId : undefined;
      return runWorkerSession(rt, requests, ctx.signal, rt.serverId, owner);
    },
    async listWorkers(req) {
      const queue = req.queue ? validQueue(req.queue) : undefined;
      const all = (await rt.workers()).filter((w) => !queue || w.queues.includes(queue));
      const size = pageSize(req.pageSize);
      const query = { list: "workers", filters: { queue } };
      const after = (decodePageToken(req.pageToken, query, ["text"])?.[0] as string | undefined) ?? "";
      const page = all.filter((s) => s.id > after).slice(0, size);
      const last = page.at(-1);
      const now = rt.clock.now();
      return {
        workers: page.map((s) => workerInfo(s, now, rt.config.leaseTtlMs)),
        nextPageToken: last && all.some((s) => s.id > last.id) ? encodePageToken(query, [last.id]) : "",
      };
    },
    async *watchWorkers(req, ctx) {
      const queue = req.queue ? validQueue(req.queue) : undefined;
      const interval = watchInterval(req.interval);
      let last = "";
      let changed = true;
      let wake: (() => void) | undefined;
      const off = rt.onWorkers(() => {
        changed = true;
        wake?.();
      });
      try {
        while (!ctx.signal.aborted) {
          if (!changed) {
            // A connect, disconnect or drain wakes the stream at once; load and silence are
            // caught by the interval.
            const timer = new AbortController();
            await Promise.race([
              new Promise<void>((resolve) => wake = resolve),
              rt.clock.sleep(interval, AbortSignal.any([ctx.signal, timer.signal])).catch(() => {}),
            ]);
            timer.abort();
            wake = undefined;
          }
          changed = false;
          yield* snapshot();
        }
      } finally {
        off();
      }
      async function* snapshot() {
        const now = rt.clock.now();
        const workers = (await rt.workers())
          .filter((w) => !queue || w.queues.includes(queue))
          .map((w) => workerInfo(w, now, rt.config.leaseTtlMs));
        // Heartbeat times move every beat; a snapshot is news when anything else changed.
        const key = JSON.stringify(
          workers.map((w) => [w.id, w.state, w.activeTaskIds, Math.round(w.load * 20)]),
        );
        if (key !== last) {
          last = key;
          yield { workers };
        }
      }
    },
    async drainWorker(req) {
      text("id", req.id, { min: 1, max: WORKER_ID_MAX_CHARS });
      const graceMs = duration("grace", req.grace, DRAIN_GRACE_MS) ?? DRAIN_GRACE_MS.default;
      const session = rt.session(req.id);
      if (session) {
        session.drain(graceMs);
        return { worker: workerInfo(session.entry(), rt.clock.now(), rt.config.leaseTtlMs) };
      }
      // Held by another instance: that one drains it when the request arrives.
      const remote = (await rt.workers()).find((w) => w.id === req.id);
      if (!remote) throw new ConnectError(`worker ${req.id} is not connected`, Code.NotFound);
      await rt.drainRemote(req.id, graceMs);
      return { worker: workerInfo({ ...remote, draining: true }, rt.clock.now(), rt.config.leaseTtlMs) };
    },
  });
}
