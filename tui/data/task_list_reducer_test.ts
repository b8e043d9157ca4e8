import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Task,
  TaskSchema,
  TaskState,
  WatchTasksResponseSchema,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { RESYNC } from "./live_store.ts";
import {
  EMPTY_TASK_LIST,
  newestCreatedFirst,
  newestUpdatedFirst,
  reduceTaskList,
  type TaskList,
  type TaskListRules,
} from "./task_list_reducer.ts";

function task(id: string, created: number, state = TaskState.QUEUED, updated = created, queue = "q"): Task {
  return create(TaskSchema, {
    id,
    state,
    spec: { queue, type: "t" },
    createTime: timestampFromMs(created),
    updateTime: timestampFromMs(updated),
  });
}
const event = (t: Task) => create(WatchTasksResponseSchema, { task: t });
const ids = (
  list: TaskList | typeof RESYNC,
) => (list === RESYNC ? "RESYNC" : list.tasks.map((t) => t.id).join(","));
const all: TaskListRules = { matches: () => true, order: newestCreatedFirst };

Deno.test("new tasks merge in by creation time, newest first", () => {
  const start: TaskList = { tasks: [task("c", 30), task("a", 10)], truncated: false };
  assert.equal(ids(reduceTaskList(start, [event(task("d", 40)), event(task("b", 20))], all)), "d,c,b,a");
});

Deno.test("a change replaces the task in place; an older version never wins", () => {
  const start: TaskList = { tasks: [task("b", 20), task("a", 10)], truncated: false };
  const ran = reduceTaskList(start, [event(task("a", 10, TaskState.RUNNING, 50))], all) as TaskList;
  assert.equal(ids(ran), "b,a");
  assert.equal(ran.tasks[1].state, TaskState.RUNNING);
  const stale = reduceTaskList(ran, [event(task("a", 10, TaskState.QUEUED, 40))], all) as TaskList;
  assert.equal(stale.tasks[1].state, TaskState.RUNNING);
  // Within one batch, the newest version wins whatever the arrival order.
  const batch = reduceTaskList(start, [
    event(task("a", 10, TaskState.SUCCEEDED, 70)),
    event(task("a", 10, TaskState.RUNNING, 60)),
  ], all) as TaskList;
  assert.equal(batch.tasks[1].state, TaskState.SUCCEEDED);
});

Deno.test("a task that stops matching leaves; one that starts matching joins", () => {
  const dead: TaskListRules = { matches: (t) => t.state === TaskState.DEAD, order: newestUpdatedFirst };
  const start: TaskList = {
    tasks: [task("b", 20, TaskState.DEAD, 200), task("a", 10, TaskState.DEAD, 100)],
    truncated: false,
  };
  const next = reduceTaskList(start, [
    event(task("a", 10, TaskState.QUEUED, 300)),
    event(task("c", 30, TaskState.DEAD, 250)),
    event(task("d", 40, TaskState.RUNNING, 260)),
  ], dead);
  assert.equal(ids(next), "c,b");
});

Deno.test("the list is capped, and says so", () => {
  const rules = { ...all, max: 3 };
  const start = reduceTaskList(
    EMPTY_TASK_LIST,
    [1, 2, 3].map((n) => event(task(`t${n}`, n))),
    rules,
  ) as TaskList;
  assert.equal(ids(start), "t3,t2,t1");
  assert.equal(start.truncated, false);
  const more = reduceTaskList(start, [event(task("t4", 4))], rules) as TaskList;
  assert.equal(ids(more), "t4,t3,t2");
  assert.equal(more.truncated, true);
});

Deno.test("an overflow from the server means: list again", () => {
  assert.equal(
    reduceTaskList(EMPTY_TASK_LIST, [create(WatchTasksResponseSchema, { overflow: true })], all),
    RESYNC,
  );
});

// How fast is bench/tui_bench.ts's business; this checks the result at that size.
Deno.test("10,000 tasks and a batch of 500 changes", () => {
  const big: TaskList = {
    tasks: Array.from({ length: 10_000 }, (_, i) => task(`t${i}`, 10_000 - i)),
    truncated: false,
  };
  const changes = Array.from(
    { length: 500 },
    (_, i) => event(task(`t${i * 20}`, 10_000 - i * 20, TaskState.RUNNING, 20_000)),
  );
  const next = reduceTaskList(big, changes, all) as TaskList;
  assert.equal(next.tasks.length, 10_000);
  assert.equal(next.tasks[0].state, TaskState.RUNNING);
  assert.equal(next.tasks.filter((t) => t.state === TaskState.RUNNING).length, 500);
});
