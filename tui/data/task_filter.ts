/**
 * The Tasks view's `/` filter: `queue:emails state:dead type:email.send some text`.
 * Queue, state and type go to the server (ListTasks, WatchTasks); the words left
 * match id, type, queue, labels and payload text on the client. Pure.
 */
import { TaskState } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { Task } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { stateName, TASK_STATES } from "./format.ts";

export interface TaskQuery {
  queue?: string;
  state?: TaskState;
  type?: string;
  /** Lower-cased words every matching task must contain. */
  words: string[];
}

export type ParsedQuery = { ok: true; query: TaskQuery } | { ok: false; error: string };

const FIELDS: Record<string, "queue" | "state" | "type"> = {
  queue: "queue",
  q: "queue",
  state: "state",
  s: "state",
  type: "type",
  t: "type",
};

export function parseTaskQuery(text: string): ParsedQuery {
  const query: TaskQuery = { words: [] };
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const colon = token.indexOf(":");
    const field = colon > 0 ? FIELDS[token.slice(0, colon).toLowerCase()] : undefined;
    if (!field) {
      query.words.push(token.toLowerCase());
      continue;
    }
    const value = token.slice(colon + 1);
    if (!value) return { ok: false, error: `${token} needs a value, e.g. ${field}:…` };
    if (field === "state") {
      const state = TASK_STATES[value.toLowerCase()];
      if (state === undefined) {
        return { ok: false, error: `no state ${value}: one of ${Object.keys(TASK_STATES).join(", ")}` };
      }
      query.state = state;
    } else query[field] = value;
  }
  return { ok: true, query };
}

export function formatTaskQuery(query: TaskQuery): string {
  return [
    query.queue && `queue:${query.queue}`,
    query.state && `state:${stateName(query.state)}`,
    query.type && `type:${query.type}`,
    ...query.words,
  ].filter(Boolean).join(" ");
}

/** Whether the server-side parts of two queries differ (the list must be read again). */
export function serverPartChanged(a: TaskQuery, b: TaskQuery): boolean {
  return a.queue !== b.queue || a.state !== b.state || a.type !== b.type;
}

/** Whether a task matches the server-side parts (queue, state, type). */
export function matchesServerPart(task: Task, query: TaskQuery): boolean {
  return (!query.queue || task.spec?.queue === query.queue) &&
    (!query.state || task.state === query.state) &&
    (!query.type || task.spec?.type === query.type);
}

const haystacks = new WeakMap<Task, string>();
const decoder = new TextDecoder();

/** Everything the words are looked for in, built once per task version. */
function haystack(task: Task): string {
  let text = haystacks.get(task);
  if (text === undefined) {
    const spec = task.spec;
    const labels = spec ? Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).join(" ") : "";
    const payload = spec ? decoder.decode(spec.payload.subarray(0, 4096)) : "";
    text = `${task.id} ${spec?.queue ?? ""} ${spec?.type ?? ""} ${stateName(task.state)} ${labels} ${payload}`
      .toLowerCase();
    haystacks.set(task, text);
  }
  return text;
}

export function matchesWords(task: Task, words: readonly string[]): boolean {
  if (words.length === 0) return true;
  const text = haystack(task);
  return words.every((w) => text.includes(w));
}
