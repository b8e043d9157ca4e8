/**
 * One task runtime per process (per Deps): the broker matches the storage mode —
 * Redis when REDIS_URL is set, in-memory in embedded mode.
 */
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { createRedisBroker } from "../broker/redis_broker.ts";
import type { Deps } from "../deps.ts";
import { createTaskStore } from "./pg_store.ts";
import { TasksRuntime } from "./runtime.ts";

const runtimes = new WeakMap<Deps, TasksRuntime>();

export function tasksRuntimeFor(deps: Deps): TasksRuntime {
  let rt = runtimes.get(deps);
  if (!rt) {
    const log = deps.log.child({ component: "tasks" });
    const broker = deps.redis.kind === "redis"
      ? createRedisBroker({ redis: deps.redis.client, log })
      : createMemoryBroker();
    rt = new TasksRuntime(createTaskStore(deps.sql), broker, deps.clock, log, deps.config.tasks);
    runtimes.set(deps, rt);
  }
  return rt;
}
