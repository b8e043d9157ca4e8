/**
 * The runtime when the broker fails after Postgres has committed: the caller is not
 * failed (the commit decided), and the next promoter tick rebuilds the broker from
 * Postgres, so the task still reaches its queue. The fault is injected at our own
 * Broker interface, around the real in-memory broker, on a real database.
 */
import assert from "node:assert/strict";
import type { Broker } from "../broker/broker.ts";
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
import { enqueueTasks } from "./enqueue.ts";
import { createTaskStore } from "./pg_store.ts";
import { newTask, T0 } from "./pg_store_testing.ts";
import { TasksRuntime } from "./runtime.ts";

/** The broker, with `add` failing the next `failures` times as a Redis that went away would. */
function flakyAdd(broker: Broker): Broker & { failures: number } {
  const state = { failures: 0 };
  const add: Broker["add"] = (tasks, now) => {
    if (state.failures > 0) {
      state.failures--;
      return Promise.reject(new Error("connection is closed"));
    }
    return broker.add(tasks, now);
  };
  return new Proxy(broker as Broker & { failures: number }, {
    get(target, key) {
      if (key === "add") return add;
      if (key === "failures") return state.failures;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(_target, key, value) {
      if (key !== "failures") return false;
      state.failures = value;
      return true;
    },
  });
}

Deno.test("a broker failing after a commit loses nothing: the next tick rebuilds it", async (t) => {
  const db = await createTestDatabase();
  const broker = flakyAdd(createMemoryBroker());
  const log = createMemoryLogger("warn");
  const rt = new TasksRuntime(createTaskStore(db.sql), broker, new ManualClock(T0), log, {
    heartbeatMs: 1000,
    leaseTtlMs: 2000,
    tickMs: 100,
  });
  try {
    await rt.rebuildIfNeeded();
    assert.equal(await broker.needsRebuild(), false, "a fresh broker is rebuilt once");

    await t.step("enqueue answers although the broker failed, and the task is in Postgres", async () => {
      broker.failures = 1;
      const { tasks: [task] } = await enqueueTasks(rt, [newTask({ queue: "flaky" })]);
      assert.equal(task.state, "queued");
      assert.deepEqual(await broker.counts("flaky"), { ready: 0, delayed: 0, leased: 0 });
      assert.ok(log.lines.some((l) => String(l.msg).startsWith("broker failed after enqueue")));
    });

    await t.step("the next tick rebuilds the broker, though it never lost its state", async () => {
      assert.equal(await broker.needsRebuild(), false);
      broker.failures = 1;
      await assert.rejects(rt.tick(), /connection is closed/, "a rebuild that fails is tried again");
      await rt.tick();
      assert.deepEqual(await broker.counts("flaky"), { ready: 1, delayed: 0, leased: 0 });
      const claimed = await broker.claim({
        queues: ["flaky"],
        max: 5,
        workerId: "w",
        leaseTtlMs: 2000,
        now: T0,
      });
      assert.equal(claimed.length, 1);
    });

    await t.step("once rebuilt, a tick does not rebuild again", async () => {
      const rebuilt = log.lines.filter((l) => l.msg === "broker rebuilt from Postgres").length;
      await rt.tick();
      assert.equal(log.lines.filter((l) => l.msg === "broker rebuilt from Postgres").length, rebuilt);
    });
  } finally {
    await broker.close();
    await db.drop();
  }
});
