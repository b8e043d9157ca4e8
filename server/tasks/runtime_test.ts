/**
 * The runtime where the broker and Postgres disagree. When the broker fails after Postgres
 * has committed, the caller is not failed (the commit decided) and the next promoter tick
 * rebuilds the broker from Postgres. A lease the broker handed out that Postgres never saw
 * start (its start is recorded with the finish, docs/ARCHITECTURE.md "Delivery") counts an
 * attempt when it expires, dated from its claim, and puts its task back. Faults are injected at our own Broker
 * interface, around the real in-memory broker, on a real database.
 */
import assert from "node:assert/strict";
import type { Broker } from "../broker/broker.ts";
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
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

Deno.test("the broker and Postgres disagree: the runtime puts tasks back", async (t) => {
  const db = await createTestDatabase();
  const broker = flakyAdd(createMemoryBroker());
  const log = createMemoryLogger("warn");
  const clock = new ManualClock(T0);
  const rt = new TasksRuntime(createTaskStore(db.sql), broker, clock, log, {
    heartbeatMs: 1000,
    leaseTtlMs: 2000,
    tickMs: 100,
  });
  try {
    await rt.rebuildIfNeeded();
    assert.equal(await broker.needsRebuild(), false, "a fresh broker is rebuilt once");

    await t.step("enqueue answers although the broker failed, and the task is in Postgres", async () => {
      broker.failures = 1;
      const { tasks: [task] } = await rt.enqueue([newTask({ queue: "flaky" })]);
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

    await t.step(
      "a lease Postgres never saw start counts an attempt and puts its task back when it expires",
      async () => {
        // A worker given the task before its start was recorded, then gone: the broker holds a lease, Postgres a queued task.
        const { tasks: [task] } = await rt.enqueue([newTask({ queue: "orphan" })]);
        const claimedAt = clock.now();
        const [lease] = await broker.claim({
          queues: ["orphan"],
          max: 1,
          workerId: "gone",
          leaseTtlMs: 2000,
          now: claimedAt,
        });
        assert.equal(lease.taskId, task.id);
        clock.advance(2001);
        assert.equal(await rt.reap(), 2, "this lease, and the one the step before claimed and left");
        for (const queue of ["orphan", "flaky"]) {
          const counts = await broker.counts(queue);
          assert.deepEqual({ ...counts, back: counts.ready + counts.delayed }, {
            ...counts,
            back: 1,
            leased: 0,
          });
        }
        const found = await rt.get(task.id);
        assert.equal(found?.task.attemptCount, 1, "the attempt counts: its handler may have run");
        assert.equal(found?.task.state === "queued" || found?.task.state === "scheduled", true);
        assert.deepEqual(
          found?.attempts.map((a) => [a.number, a.outcome, a.workerId, a.leaseId, a.startedAt]),
          [[1, "lease_expired", "gone", lease.leaseId, claimedAt]],
          "dated from its claim",
        );
      },
    );

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
