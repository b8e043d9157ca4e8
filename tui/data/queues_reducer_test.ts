import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  type QueueInfo,
  QueueInfoSchema,
  WatchQueuesResponseSchema,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { applySnapshot, EMPTY_QUEUES, HISTORY, reduceQueues } from "./queues_reducer.ts";
import { queueWarnings } from "./warnings.ts";

const q = (name: string, init: Partial<Omit<QueueInfo, "$typeName">> = {}) =>
  create(QueueInfoSchema, { name, workerCount: 1, ...init });
const snapshot = (queues: QueueInfo[], workerCount = 1) =>
  create(WatchQueuesResponseSchema, { queues, workerCount });

Deno.test("snapshots become sorted rows with a bounded history", () => {
  let state = reduceQueues(EMPTY_QUEUES, [
    snapshot([q("b", { queued: 3n, processedPerSecond: 1.5 }), q("a", { dead: 1n })], 2),
  ]);
  assert.deepEqual(state.queues.map((r) => r.name), ["a", "b"]);
  assert.equal(state.queues[1].queued, 3);
  assert.equal(state.workerCount, 2);
  for (let i = 0; i < HISTORY + 5; i++) {
    state = applySnapshot(state, [q("b", { processedPerSecond: i })], undefined);
  }
  assert.equal(state.history.b.processed.length, HISTORY);
  assert.equal(state.history.b.processed.at(-1), HISTORY + 4);
  // A list (no worker count) keeps the last known one.
  assert.equal(state.workerCount, 2);
  // A queue that is gone takes its history with it.
  assert.equal(state.history.a, undefined);
});

Deno.test("warnings, most urgent first: work but no worker, paused with work, dead letters growing, failing, waiting", () => {
  let state = reduceQueues(EMPTY_QUEUES, [
    snapshot([
      q("orphan", { queued: 4n, workerCount: 0 }),
      q("held", { paused: true, queued: 2n, workerCount: 0 }),
      q("rotting", { dead: 1n }),
      q("flaky", { failedPerSecond: 2, processedPerSecond: 1 }),
      q("slow", { queued: 1n, oldestQueuedAge: durationFromMs(10 * 60_000) }),
      q("fine", { queued: 1n }),
    ], 3),
  ]);
  state = applySnapshot(
    state,
    state.queues.map((r) =>
      q(r.name, {
        queued: BigInt(r.queued),
        paused: r.paused,
        workerCount: r.workerCount,
        dead: BigInt(r.name === "rotting" ? 4 : r.dead),
        failedPerSecond: r.failedPerSecond,
        processedPerSecond: r.processedPerSecond,
        oldestQueuedAge: durationFromMs(r.oldestQueuedMs),
      })
    ),
    3,
  );
  const texts = queueWarnings(state).map((w) => `${w.level}: ${w.text}`);
  assert.deepEqual(texts, [
    "error: queue orphan has work (4 tasks) but no worker",
    "error: dead letters growing in rotting (+3, now 4)",
    "warn: queue flaky fails more attempts than it finishes",
    "warn: queue held is paused with 2 queued",
    "warn: oldest task in slow has waited 10m00s",
  ]);
  assert.deepEqual(queueWarnings(reduceQueues(EMPTY_QUEUES, [snapshot([], 0)])).map((w) => w.text), [
    "no worker is connected",
  ]);
  assert.deepEqual(queueWarnings(EMPTY_QUEUES), []);
});
