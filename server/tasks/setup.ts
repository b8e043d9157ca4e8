/**
 * Builds a process's task engine (the composition root, server/runtimes.ts, calls it
 * once): the broker and the worker registry match the storage mode — Redis when
 * REDIS_URL is set, in-memory in embedded mode.
 */
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { createRedisBroker } from "../broker/redis_broker.ts";
import { createRedisWorkerRegistry } from "../broker/redis_worker_registry.ts";
import { createMemoryWorkerRegistry } from "../broker/worker_registry.ts";
import type { Deps } from "../deps.ts";
import { createTaskStore } from "./pg_store.ts";
import { TasksRuntime } from "./runtime.ts";

export function createTasksRuntime(
  deps: Pick<Deps, "sql" | "redis" | "clock" | "log" | "config">,
): TasksRuntime {
  const log = deps.log.child({ component: "tasks" });
  const redis = deps.redis.kind === "redis" ? deps.redis.client : undefined;
  const broker = redis ? createRedisBroker({ redis, log }) : createMemoryBroker();
  const registry = redis ? createRedisWorkerRegistry({ redis, log }) : createMemoryWorkerRegistry();
  const store = createTaskStore(deps.sql);
  return new TasksRuntime(store, broker, deps.clock, log, deps.config.tasks, {
    registry,
    openPayloads: (tasks) => store.openPayloads(tasks, deps.clock.now()),
  });
}
