/** How figures read on screen: short ages, rates, states, payloads. Pure. */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { AttemptOutcome, TaskState } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerState } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { TagType } from "../../gen/taskmesh/tags/v1/tags_pb.ts";

export const TASK_STATES: Record<string, TaskState> = {
  waiting: TaskState.WAITING,
  scheduled: TaskState.SCHEDULED,
  queued: TaskState.QUEUED,
  running: TaskState.RUNNING,
  succeeded: TaskState.SUCCEEDED,
  failed: TaskState.FAILED,
  dead: TaskState.DEAD,
  cancelled: TaskState.CANCELLED,
};

export function stateName(state: TaskState): string {
  return Object.entries(TASK_STATES).find(([, v]) => v === state)?.[0] ?? "—";
}

export function outcomeName(outcome: AttemptOutcome): string {
  switch (outcome) {
    case AttemptOutcome.SUCCEEDED:
      return "succeeded";
    case AttemptOutcome.FAILED:
      return "failed";
    case AttemptOutcome.LEASE_EXPIRED:
      return "lease expired";
    case AttemptOutcome.TIMED_OUT:
      return "timed out";
    case AttemptOutcome.CANCELLED:
      return "cancelled";
    default:
      return "running";
  }
}

export function workerStateName(state: WorkerState): string {
  switch (state) {
    case WorkerState.ACTIVE:
      return "active";
    case WorkerState.DRAINING:
      return "draining";
    case WorkerState.SILENT:
      return "silent";
    case WorkerState.GONE:
      return "gone";
    default:
      return "—";
  }
}

export const TAG_TYPES: readonly TagType[] = [
  TagType.LANGUAGE,
  TagType.SKILL_LEVEL,
  TagType.TOPIC,
  TagType.FRAMEWORK,
  TagType.TOOL,
  TagType.DOMAIN,
  TagType.CONCEPT,
];

export function tagTypeName(type: TagType): string {
  return TagType[type]?.toLowerCase() ?? "—";
}

/** "3s", "4m12s", "2h05m", "3d04h". */
export function shortDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/** How long ago a timestamp was, or "—" when unset. */
export function age(t: Timestamp | undefined, now: number): string {
  return t ? shortDuration(Math.max(0, now - timestampMs(t))) : "—";
}

export function rate(perSecond: number): string {
  if (perSecond === 0) return "0";
  if (perSecond < 0.1) return perSecond.toFixed(2);
  if (perSecond < 100) return perSecond.toFixed(1);
  return Math.round(perSecond).toString();
}

export function clock(t: Timestamp | undefined): string {
  return t ? new Date(timestampMs(t)).toISOString().replace("T", " ").slice(0, 19) : "—";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A payload as the operator wants to read it: pretty JSON, else text, else hex. */
export function prettyPayload(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(empty)";
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const hex = [...bytes.slice(0, 512)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    return `(${bytes.length} bytes, not UTF-8) ${hex}${bytes.length > 512 ? " …" : ""}`;
  }
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Cuts a string to `width` characters, marking the cut. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Right-aligns a figure in `width` characters. */
export function num(value: number | string, width: number): string {
  return String(value).padStart(width);
}

/** `n` spaces, for gaps inside a line of JSX (a literal there is trimmed or flagged by the linter). */
export function gap(n: number): string {
  return " ".repeat(n);
}
