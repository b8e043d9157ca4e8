/**
 * Pausing and resuming a queue when the broker fails after Postgres committed: the call
 * answers (the commit decided), and the next promoter tick sets the broker's flag from
 * Postgres, both ways. Faults are injected at our own Broker interface, around the real
 * in-memory broker, on a real database.
 */
import assert from "node:assert/strict";
import type { Broker } from "../broker/broker.ts";
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
import { createTaskStore } from "./pg_store.ts";
import { T0 } from "./pg_store_testing.ts";
import { TasksRuntime } from "./runtime.ts";

/** The broker, with `setPaused` failing while `failing` is set, as a Redis that went away would. */
function flakyPause(broker: Broker): { broker: Broker; failing: { on: boolean } } {
  const failing = { on: false };
  const setPaused: Broker["setPaused"] = (queue, paused) =>
    failing.on ? Promise.reject(new Error("connection is closed")) : broker.setPaused(queue, paused);
  const proxy = new Proxy(broker, {
    get(target, key) {
      if (key === "setPaused") return setPaused;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { broker: proxy, failing };
}

Deno.test("a resume whose broker write failed is put right by the next tick", async () => {
  const db = await createTestDatabase();
  const { broker, failing } = flakyPause(createMemoryBroker());
  const log = createMemoryLogger("warn");
  const rt = new TasksRuntime(createTaskStore(db.sql), broker, new ManualClock(T0), log, {
    heartbeatMs: 1000,
    leaseTtlMs: 2000,
    tickMs: 100,
  });
  try {
    await rt.rebuildIfNeeded();
    await rt.setPaused("pr", true);
    assert.equal(await broker.isPaused("pr"), true);

    failing.on = true;
    await rt.setPaused("pr", false);
    assert.equal(await broker.isPaused("pr"), true, "the broker missed the resume");
    assert.ok(log.lines.some((l) => String(l.msg).startsWith("broker failed after resuming a queue")));

    failing.on = false;
    await rt.tick();
    assert.equal(await broker.isPaused("pr"), false, "the rebuild resumed the queue from Postgres");

    failing.on = true;
    await rt.setPaused("pr", true);
    failing.on = false;
    await rt.tick();
    assert.equal(await broker.isPaused("pr"), true, "and a missed pause is put right the same way");
  } finally {
    await broker.close();
    await db.drop();
  }
});
