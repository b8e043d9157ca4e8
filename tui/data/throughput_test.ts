import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { TaskSchema, TaskState, WatchTasksResponseSchema } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { countFinished, okSeries, recentRates, startCounting } from "./throughput.ts";

const finished = (queue: string, state: TaskState, previousState = TaskState.RUNNING) =>
  create(WatchTasksResponseSchema, {
    task: create(TaskSchema, { id: crypto.randomUUID(), state, spec: { queue } }),
    previousState,
  });

Deno.test("throughput counts finished attempts per queue and second, over the last 10 s", () => {
  const t0 = 1_000_000;
  let state = startCounting(t0);
  state = countFinished(state, [
    ...Array.from({ length: 30 }, () => finished("a", TaskState.SUCCEEDED)),
    finished("a", TaskState.SCHEDULED),
    finished("a", TaskState.DEAD),
    // Not the end of an attempt: enqueued, assigned, cancelled while queued.
    finished("a", TaskState.QUEUED, TaskState.UNSPECIFIED),
    finished("a", TaskState.RUNNING, TaskState.QUEUED),
    finished("a", TaskState.CANCELLED, TaskState.QUEUED),
  ], t0);
  state = countFinished(state, [finished("b", TaskState.SUCCEEDED)], t0 + 2000);
  // Averaged over the time counted, at least a second.
  assert.deepEqual(recentRates(state, "a", t0), { ok: 30, failed: 2 });
  assert.deepEqual(recentRates(state, "a", t0 + 3000), { ok: 10, failed: 2 / 3 });
  assert.deepEqual(recentRates(state, "b", t0 + 4000), { ok: 0.25, failed: 0 });
  // Ten seconds on, the first second has left the window.
  assert.deepEqual(recentRates(state, "a", t0 + 10_000), { ok: 0, failed: 0 });
  assert.deepEqual(recentRates(state, "b", t0 + 10_000), { ok: 0.1, failed: 0 });
  assert.deepEqual(okSeries(state, "a", t0 + 2000, 4), [0, 30, 0, 0]);
  assert.deepEqual(okSeries(state, "b", t0 + 2000, 4), [0, 0, 0, 1]);
});
