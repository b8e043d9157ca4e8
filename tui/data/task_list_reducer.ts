/**
 * A live list of tasks (the Tasks view, the dead letters) kept from WatchTasks events:
 * the newest version of each task wins, tasks that stop matching leave, new ones are
 * merged in order, and the list is capped. Pure and O(n) per batch of events, so a
 * 10,000-task list stays cheap while events pour in.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Task, WatchTasksResponse } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { RESYNC } from "./live_store.ts";

/** The most tasks a list holds; the oldest beyond it are dropped. */
export const MAX_TASKS = 10_000;

export interface TaskList {
  /** In the list's order. */
  tasks: readonly Task[];
  /** True when the server had more than the list holds. */
  truncated: boolean;
}

export const EMPTY_TASK_LIST: TaskList = { tasks: [], truncated: false };

export interface TaskListRules {
  /** Whether a task belongs in this list. */
  matches(task: Task): boolean;
  /** Sort order (negative when `a` comes first). */
  order(a: Task, b: Task): number;
  max?: number;
}

const ms = (t: Task["updateTime"]) => (t ? timestampMs(t) : 0);

/** Newest created first (the Tasks view). */
export const newestCreatedFirst = (a: Task, b: Task) =>
  ms(b.createTime) - ms(a.createTime) || b.id.localeCompare(a.id);

/** Most recently changed first (dead letters: most recently dead first). */
export const newestUpdatedFirst = (a: Task, b: Task) =>
  ms(b.updateTime) - ms(a.updateTime) || b.id.localeCompare(a.id);

/** The later of two versions of a task; on a tie the event (it may carry fresh progress). */
function newer(current: Task, incoming: Task): Task {
  return ms(current.updateTime) > ms(incoming.updateTime) ? current : incoming;
}

export function reduceTaskList(
  state: TaskList,
  events: readonly WatchTasksResponse[],
  rules: TaskListRules,
): TaskList | typeof RESYNC {
  const latest = new Map<string, Task>();
  for (const event of events) {
    if (event.overflow) return RESYNC;
    if (!event.task) continue;
    const seen = latest.get(event.task.id);
    latest.set(event.task.id, seen ? newer(seen, event.task) : event.task);
  }
  if (latest.size === 0) return state;
  const kept: Task[] = [];
  const changed: Task[] = [];
  for (const task of state.tasks) {
    const update = latest.get(task.id);
    if (!update) {
      kept.push(task);
      continue;
    }
    latest.delete(task.id);
    const next = newer(task, update);
    if (rules.matches(next)) changed.push(next);
  }
  for (const task of latest.values()) if (rules.matches(task)) changed.push(task);
  changed.sort(rules.order);
  const max = rules.max ?? MAX_TASKS;
  const merged = merge(kept, changed, rules.order, max);
  return { tasks: merged, truncated: state.truncated || kept.length + changed.length > max };
}

/** Merges two sorted lists, stopping at `max`. */
function merge(a: Task[], b: Task[], order: (x: Task, y: Task) => number, max: number): Task[] {
  if (b.length === 0) return a.slice(0, max);
  const out: Task[] = [];
  let i = 0;
  let j = 0;
  while (out.length < max && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && order(a[i], b[j]) <= 0)) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}

/** A task by id, or undefined. */
export function findTask(list: TaskList, id: string): Task | undefined {
  return list.tasks.find((t) => t.id === id);
}
