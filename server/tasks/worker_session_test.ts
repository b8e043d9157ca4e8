/**
 * A worker session's credits against its finisher, on a real database: a Result gives its
 * credit back at once, the next claim is issued before the finish of that Result, and the
 * results waiting to be recorded stay bounded (2 × concurrency + FINISH_SLACK leases in all)
 * however slow the finish. The store's finishMany is held back at our own TaskStore
 * interface, around the real Postgres store; the broker is the real in-memory one.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  type Assign,
  ConnectRequestSchema,
  type ConnectResponse,
  HelloSchema,
} from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import type { Broker } from "../broker/broker.ts";
import { createMemoryBroker } from "../broker/memory_broker.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase, type TestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
import type { TaskStore } from "./model.ts";
import { createTaskStore } from "./pg_store.ts";
import { newTask, T0 } from "./pg_store_testing.ts";
import { TasksRuntime } from "./runtime.ts";
import { FINISH_SLACK, WorkerSession } from "./worker_session.ts";

const ok = new Uint8Array();

/** Calls to `claim` and `finishMany`, in the order they were made; finishMany waits while `hold` is set. */
interface Seen {
  calls: string[];
  hold?: Promise<void>;
}

function watched<T extends object>(target: T, name: keyof T & string, seen: Seen, gate: boolean): T {
  return new Proxy(target, {
    get(t, key) {
      const value = Reflect.get(t, key);
      if (typeof value !== "function") return value;
      if (key !== name) return value.bind(t);
      return async (...args: unknown[]) => {
        seen.calls.push(name);
        if (gate) await seen.hold;
        return await value.apply(t, args);
      };
    },
  });
}

/** The acks and assigns a message carries, alone or in a ResponseBatch. */
function itemsOf(response: ConnectResponse): { acks: number; assigns: Assign[] } {
  const m = response.message;
  if (m.case === "batch") return { acks: m.value.resultAcks.length, assigns: m.value.assigns };
  if (m.case === "resultAck") return { acks: 1, assigns: [] };
  if (m.case === "assign") return { acks: 0, assigns: [m.value] };
  return { acks: 0, assigns: [] };
}

/** Re-asks after each Postgres round trip, up to a bound; no timers. */
async function until(db: TestDatabase, what: string, check: () => boolean, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await db.sql`select 1`;
  }
  throw new Error(`${what}: never happened`);
}

async function setUp(seen: Seen) {
  const db = await createTestDatabase();
  const store = watched<TaskStore>(createTaskStore(db.sql), "finishMany", seen, true);
  const broker = watched<Broker>(createMemoryBroker(), "claim", seen, false);
  const rt = new TasksRuntime(store, broker, new ManualClock(T0), createMemoryLogger("error"), {
    heartbeatMs: 60_000,
    leaseTtlMs: 120_000,
    tickMs: 100,
  });
  await rt.rebuildIfNeeded();
  return { db, rt };
}

/** A session of a worker that answers every Assign at once with a success. */
function answering(rt: TasksRuntime, queue: string, concurrency: number, batches: boolean, output = ok) {
  const session = new WorkerSession(
    rt,
    create(HelloSchema, { workerId: `w-${queue}`, queues: [queue], concurrency, batches }),
    "test",
  );
  const stop = new AbortController();
  const state = { assigns: 0, acks: 0, mostHeld: 0 };
  const dispatching = session.dispatch(stop.signal);
  const reading = (async () => {
    for await (const response of session.out.drain(stop.signal)) {
      const { acks, assigns } = itemsOf(response);
      state.acks += acks;
      state.assigns += assigns.length;
      for (const a of assigns) {
        const value = {
          taskId: a.task!.id,
          leaseId: a.leaseId,
          outcome: { case: "output" as const, value: output },
        };
        await session.handle(create(ConnectRequestSchema, { message: { case: "result", value } }));
        state.mostHeld = Math.max(state.mostHeld, session.held.size);
      }
    }
  })();
  const end = async () => {
    if (stop.signal.aborted) return;
    stop.abort();
    await dispatching;
    await session.close();
    await reading;
  };
  return { session, state, end };
}

Deno.test("a worker session's next claim goes before the finish of the Result that freed its slot", async () => {
  const release = undefined as (() => void) | undefined;
  const seen: Seen = { calls: [] };
  const { db, rt } = await setUp(seen);
  let end = () => Promise.resolve();
  try {
    await rt.enqueue([1, 2, 3].map(() => newTask({ queue: "order" })));
    const w = answering(rt, "order", 1, true);
    end = w.end;
    await until(db, "every task acked", () => w.state.acks === 3);
    await w.end();
    // The first claim; then the Result of the first task: the next claim goes out before its finish
    // (what follows depends on timing: later results may wait for the finish in flight).
    assert.deepEqual(seen.calls.slice(0, 3), ["claim", "claim", "finishMany"]);
  } finally {
    release?.();
    await end();
    await db.drop();
  }
});

Deno.test("results waiting to be recorded are bounded, and a slow finish does not hold back the next claims", async () => {
  let release!: () => void;
  const seen: Seen = { calls: [], hold: new Promise((resolve) => release = resolve) };
  const { db, rt } = await setUp(seen);
  let end = () => Promise.resolve();
  const bound = 2 * 1 + FINISH_SLACK;
  const total = bound + 6;
  try {
    await rt.enqueue(Array.from({ length: total }, () => newTask({ queue: "bound" })));
    const w = answering(rt, "bound", 1, true);
    end = w.end;
    // The first finish waits: the worker still gets task after task, up to the bound.
    await until(db, `${bound} tasks assigned while the finish waits`, () => w.state.assigns === bound);
    // And no more, however long the finish takes.
    for (let i = 0; i < 50; i++) await db.sql`select 1`;
    assert.equal(w.state.assigns, bound);
    assert.equal(w.session.held.size, bound);
    assert.equal(w.state.acks, 0, "nothing is acked before its commit");
    release();
    await until(db, "every task acked", () => w.state.acks === total);
    assert.equal(w.state.mostHeld, bound);
    // Results that waited were recorded together, not one transaction each.
    assert.ok(seen.calls.filter((c) => c === "finishMany").length < total / 2, seen.calls.join(" "));
    await w.end();
    const [{ n }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from tasks where queue = 'bound' and state = 'succeeded'`;
    assert.equal(n, total);
  } finally {
    release?.();
    await end();
    await db.drop();
  }
});

Deno.test("past FINISH_BATCH_BYTES of output waiting to be recorded, the slack is not used", async () => {
  let release!: () => void;
  const seen: Seen = { calls: [], hold: new Promise((resolve) => release = resolve) };
  const { db, rt } = await setUp(seen);
  let end = () => Promise.resolve();
  const total = 20;
  try {
    await rt.enqueue(Array.from({ length: total }, () => newTask({ queue: "bytes" })));
    // 1 MiB each, the most a Result may carry: 8 of them fill FINISH_BATCH_BYTES.
    const w = answering(rt, "bytes", 1, true, new Uint8Array(1024 * 1024));
    end = w.end;
    await until(db, "the claims stopped", () => w.state.assigns > 8);
    for (let i = 0; i < 50; i++) await db.sql`select 1`;
    // The first result is in the finish that waits; 8 MiB more wait for the next one, and one past it.
    assert.equal(w.state.assigns, 10);
    assert.equal(w.session.held.size, 10);
    release();
    // 20 MiB of output to write: more round trips than the default.
    await until(db, "every task acked", () => w.state.acks === total, 100_000);
    await w.end();
  } finally {
    release?.();
    await end();
    await db.drop();
  }
});

Deno.test("a task enqueued while a worker session's claim is out is assigned without the idle wait", async () => {
  const db = await createTestDatabase();
  const memory = createMemoryBroker();
  let first = true;
  // The session's first claim finds the queue empty; the task is enqueued (and its wake-up sent)
  // before that empty answer reaches the session.
  const broker = new Proxy(memory, {
    get(t, key) {
      const value = Reflect.get(t, key);
      if (typeof value !== "function") return value;
      if (key !== "claim") return value.bind(t);
      return async (...args: Parameters<Broker["claim"]>) => {
        const leases = await memory.claim(...args);
        if (first) {
          first = false;
          await rt.enqueue([newTask({ queue: "late" })]);
        }
        return leases;
      };
    },
  });
  // The manual clock never moves: the idle wait after an empty claim never passes.
  const rt = new TasksRuntime(
    createTaskStore(db.sql),
    broker,
    new ManualClock(T0),
    createMemoryLogger("error"),
    {
      heartbeatMs: 60_000,
      leaseTtlMs: 120_000,
      tickMs: 100,
    },
  );
  let end = () => Promise.resolve();
  try {
    await rt.rebuildIfNeeded();
    const w = answering(rt, "late", 1, true);
    end = w.end;
    await until(db, "the task enqueued during the claim assigned", () => w.state.assigns === 1);
  } finally {
    await end();
    await db.drop();
  }
});
