/**
 * An enqueue wakes this process's dispatchers as soon as its broker copy is on its way,
 * not once the broker has answered: a claim sent then follows the add on the same Redis
 * connection, so it sees the task one round trip sooner (the enqueue → handler start
 * latency of bench:queue). A claim that overtook the add anyway finds nothing and waits
 * again; the add's answer wakes it a second time. On the real Redis broker, its own key
 * prefix; the broker's answer to `add` is held back (or the add itself deferred) at our
 * own Broker interface.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { Broker } from "../broker/broker.ts";
import { createRedisBroker } from "../broker/redis_broker.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
import { createTaskStore } from "./pg_store.ts";
import { newTask, settle, T0 } from "./pg_store_testing.ts";
import { TasksRuntime } from "./runtime.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/**
 * The broker with `add` held at a gate: "answer" sends the add at once and holds back its
 * answer; "send" holds back the add itself (as a script Redis had to load again would run
 * after a claim sent meanwhile).
 */
function gatedAdd(broker: Broker, hold: "answer" | "send") {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  let called!: () => void;
  const addCalled = new Promise<void>((resolve) => called = resolve);
  const add: Broker["add"] = (tasks, now) => {
    called();
    if (hold === "answer") {
      const sent = broker.add(tasks, now);
      return sent.then(() => gate);
    }
    return gate.then(() => broker.add(tasks, now));
  };
  const gated = new Proxy(broker, {
    get(target, key) {
      if (key === "add") return add;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { broker: gated, open, addCalled };
}

async function withRuntime(
  hold: "answer" | "send",
  fn: (rt: TasksRuntime, broker: Broker, gate: { open(): void; addCalled: Promise<void> }) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase();
  const redis = new Redis(REDIS_URL);
  const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
  const log = createMemoryLogger("warn");
  const inner = createRedisBroker({ redis, prefix, log });
  const { broker, open, addCalled } = gatedAdd(inner, hold);
  const clock = new ManualClock(T0);
  const rt = new TasksRuntime(createTaskStore(db.sql), broker, clock, log, {
    heartbeatMs: 1000,
    leaseTtlMs: 2000,
    tickMs: 100,
  });
  try {
    await rt.rebuildIfNeeded();
    await fn(rt, inner, { open, addCalled });
  } finally {
    open();
    await inner.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
  }
}

Deno.test("a dispatcher is woken while the enqueue's broker copy is on its way", async () => {
  await withRuntime("answer", async (rt, broker, gate) => {
    const stop = new AbortController();
    // The manual clock never moves: only a wake-up ends this wait.
    const woken = rt.armWake(["wake"]).wait(60_000, stop.signal).then(() => "woken");
    const enqueued = rt.enqueue([newTask({ queue: "wake" })]);
    const first = await Promise.race([woken, gate.addCalled.then(settle).then(() => "still waiting")]);
    assert.equal(first, "woken", "woken before the broker answered the add");

    // Its claim, sent now, follows the add on the connection: it gets the task.
    const leases = await broker.claim({ queues: ["wake"], max: 1, workerId: "w", leaseTtlMs: 2000, now: T0 });
    gate.open();
    const { tasks: [task] } = await enqueued;
    assert.deepEqual(leases.map((l) => l.taskId), [task.id]);
    stop.abort();
  });
});

Deno.test("a claim that overtook the add is woken again when the add answers", async () => {
  await withRuntime("send", async (rt, broker, gate) => {
    const stop = new AbortController();
    const first = rt.armWake(["late"]).wait(60_000, stop.signal).then(() => "woken");
    const enqueued = rt.enqueue([newTask({ queue: "late" })]);
    assert.equal(
      await Promise.race([first, gate.addCalled.then(settle).then(() => "still waiting")]),
      "woken",
    );
    const claim = () => broker.claim({ queues: ["late"], max: 1, workerId: "w", leaseTtlMs: 2000, now: T0 });
    assert.deepEqual(await claim(), [], "the add has not run yet");

    let again = false;
    const second = rt.armWake(["late"]).wait(60_000, stop.signal).then(() => again = true);
    gate.open();
    const { tasks: [task] } = await enqueued;
    await Promise.race([second, settle()]);
    assert.equal(again, true, "woken again once the add answered, without waiting out the idle wait");
    assert.deepEqual((await claim()).map((l) => l.taskId), [task.id]);
    stop.abort();
  });
});
