/**
 * An enqueue is told to the watchers before a dispatcher of this process can tell the start
 * of the same task. The early wake (runtime.ts, makeRunnable) lets a claim, answered from the
 * claim cache with no Postgres round trip, publish queued→running at once: the enqueue's own
 * event must be out by then, or the run-duration metric loses the task's start
 * (task_metrics.ts) and WatchTasks tells the two changes backwards.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { Broker } from "../broker/broker.ts";
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { createRedisBroker } from "../broker/redis_broker.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
import { MetricsRegistry } from "../observability/metrics.ts";
import { observeTasks } from "../observability/task_metrics.ts";
import { createTaskStore } from "./pg_store.ts";
import { newTask, T0 } from "./pg_store_testing.ts";
import { TasksRuntime } from "./runtime.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

for (const kind of ["redis", "memory"] as const) {
  Deno.test(`${kind} broker: the enqueue event comes before the start of the task it enqueued`, async () => {
    const db = await createTestDatabase();
    const redis = new Redis(REDIS_URL);
    const prefix = `o${crypto.randomUUID().slice(0, 8)}`;
    const log = createMemoryLogger("warn");
    const broker: Broker = kind === "redis"
      ? createRedisBroker({ redis, prefix, log })
      : createMemoryBroker({ log });
    const clock = new ManualClock(T0);
    const rt = new TasksRuntime(createTaskStore(db.sql), broker, clock, log, {
      heartbeatMs: 1000,
      leaseTtlMs: 60_000,
      tickMs: 100,
    });
    const registry = new MetricsRegistry();
    observeTasks(registry, rt, clock);
    const events: string[] = [];
    rt.onTask((t, previous) => events.push(`${previous ?? "new"}>${t.state}`));
    const stop = new AbortController();
    try {
      await rt.rebuildIfNeeded();
      // An idle dispatcher, as worker_session.ts dispatch runs one.
      let parked!: () => void;
      const isParked = new Promise<void>((r) => parked = r);
      const held: Array<{ taskId: string; leaseId: string; version: string }> = [];
      let started!: () => void;
      const isStarted = new Promise<void>((r) => started = r);
      const dispatcher = (async () => {
        while (!stop.signal.aborted) {
          const wake = rt.armWake(["order"]);
          const r = await rt.claimAndStart({ queues: ["order"], max: 1, workerId: "w" }, () => false);
          for (const s of r.started) {
            held.push({ taskId: s.task.id, leaseId: s.leaseId, version: s.task.version });
            rt.taskStarted(s.task);
            started();
          }
          if (r.claimed === 0) {
            const waiting = wake.wait(60_000, stop.signal);
            parked();
            await waiting;
          } else wake.disarm();
        }
      })();
      await isParked;
      await rt.enqueue([newTask({ queue: "order" })]);
      await isStarted;
      assert.deepEqual(events, ["new>queued", "queued>running"]);
      await rt.finish(
        held.map((h) => ({
          ...h,
          workerId: "w",
          startedAt: T0,
          result: { ok: true, output: new Uint8Array() },
        })),
        "w",
        () => {},
      );
      assert.match(registry.render(), /taskmesh_task_run_duration_seconds_count\{queue="order"\} 1/);
      stop.abort();
      await dispatcher;
    } finally {
      stop.abort();
      await broker.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await db.drop();
    }
  });
}
