/**
 * One task runtime per process (per Deps): the broker and the worker registry match the
 * storage mode — Redis when REDIS_URL is set, in-memory in embedded mode.
 */
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { createRedisBroker } from "../broker/redis_broker.ts";
import { createRedisWorkerRegistry } from "../broker/redis_worker_registry.ts";
import { createMemoryWorkerRegistry } from "../broker/worker_registry.ts";
import type { Deps } from "../deps.ts";
import { createTaskStore } from "./pg_store.ts";
import { TasksRuntime } from "./runtime.ts";
import { openSealedPayloads } from "./sealed_payloads.ts";

const runtimes = new WeakMap<Deps, TasksRuntime>();

export function tasksRuntimeFor(deps: Deps): TasksRuntime {
  let rt = runtimes.get(deps);
  if (!rt) {
    const log = deps.log.child({ component: "tasks" });
    const redis = deps.redis.kind === "redis" ? deps.redis.client : undefined;
    const broker = redis ? createRedisBroker({ redis, log }) : createMemoryBroker();
    const registry = redis ? createRedisWorkerRegistry({ redis, log }) : createMemoryWorkerRegistry();
    rt = new TasksRuntime(createTaskStore(deps.sql), broker, deps.clock, log, deps.config.tasks, {
      registry,
      openPayloads: (tasks) => openSealedPayloads(deps.sql, tasks, deps.clock.now()),
    });
    runtimes.set(deps, rt);
  }
  return rt;
}
