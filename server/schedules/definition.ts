/**
 * Turns a Schedule message (an RPC's, or an in-process caller's init of one) into a
 * validated ScheduleDefinition. Bad input answers InvalidArgument naming the field
 * (`schedule.cron`, `schedule.time_zone`, `schedule.end_time`…) and changes nothing.
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  CatchUpPolicy,
  CatchUpPolicySchema,
  OverlapPolicy,
  OverlapPolicySchema,
  type Schedule,
  ScheduleSchema,
  TaskSpecSchema,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { boundedInt, duration, enumValue, invalid, text, timestamp } from "../kit/validate.ts";
import { MAX_LABELS, toNewTask, validLabels } from "../tasks/_spec.ts";
import {
  CATCH_UP_LIMIT,
  CATCH_UP_WINDOW_MS,
  CRON_MAX_CHARS,
  INTERVAL_MS,
  JITTER_MS,
  NAME_MAX_CHARS,
  type ScheduleDefinition,
  type Timing,
} from "./model.ts";
import { cronOf } from "./timing.ts";

export type ScheduleInit = MessageInitShape<typeof ScheduleSchema>;

/** Schedule times stay within these years, where every zone's rules are known. */
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2200, 0, 1);
export const TIMES = { min: EARLIEST, max: LATEST, says: "from the year 2000 to 2200" };
const FIRE_LABELS = 2;

const OVERLAP = {
  [OverlapPolicy.UNSPECIFIED]: "skip",
  [OverlapPolicy.SKIP]: "skip",
  [OverlapPolicy.ALLOW]: "allow",
  [OverlapPolicy.BUFFER_ONE]: "buffer_one",
  [OverlapPolicy.CANCEL_PREVIOUS]: "cancel_previous",
} as const;

const CATCH_UP = {
  [CatchUpPolicy.UNSPECIFIED]: "skip",
  [CatchUpPolicy.SKIP]: "skip",
  [CatchUpPolicy.ONCE]: "latest",
  [CatchUpPolicy.ALL]: "all",
} as const;

export function validTimeZone(zone: string, field: string): string {
  text(field, zone, { max: 64 });
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
  } catch {
    throw invalid(
      field,
      `${JSON.stringify(zone)} is not an IANA time zone: use a name such as Europe/Berlin`,
    );
  }
  return zone;
}

/** The timing of a schedule, with start and end; `f` names the field. */
export function timingOf(s: Schedule, f: (name: string) => string) {
  const set = [s.cron !== "" && "cron", s.interval && "interval", s.onceTime && "once_time"].filter(Boolean);
  if (set.length === 0) throw invalid(f("cron"), "is required: give one of cron, interval or once_time");
  if (set.length > 1) throw invalid(f(set[1] as string), `is set with ${set[0]}: give only one of them`);
  let timing: Timing;
  if (s.cron !== "") {
    const zone = validTimeZone(s.timeZone || "UTC", f("time_zone"));
    text(f("cron"), s.cron, { max: CRON_MAX_CHARS });
    try {
      cronOf(s.cron, zone);
    } catch (error) {
      throw invalid(f("cron"), `is not a cron expression of 5 or 6 fields: ${(error as Error).message}`);
    }
    timing = { kind: "cron", cron: s.cron.trim(), timeZone: zone };
  } else if (s.interval) {
    const intervalMs = duration(f("interval"), s.interval, INTERVAL_MS)!;
    if (!Number.isInteger(intervalMs)) {
      throw invalid(f("interval"), "has a fraction of a millisecond: round it");
    }
    timing = {
      kind: "interval",
      intervalMs,
      anchorAt: timestamp(f("anchor_time"), s.anchorTime, TIMES) ?? 0,
    };
  } else {
    timing = { kind: "once", at: timestamp(f("once_time"), s.onceTime, TIMES)! };
  }
  const startAt = timestamp(f("start_time"), s.startTime, TIMES) ?? null;
  const endAt = timestamp(f("end_time"), s.endTime, TIMES) ?? null;
  if (startAt !== null && endAt !== null && endAt <= startAt) {
    throw invalid(f("end_time"), "is not after start_time: give an end later than the start");
  }
  return { timing, startAt, endAt };
}

/** A whole definition; `now` bounds the task's fields as Enqueue would. */
export function toDefinition(
  init: ScheduleInit | Schedule | undefined,
  now: number,
  prefix = "schedule",
): ScheduleDefinition {
  if (!init) throw invalid(prefix, "is required");
  const s = create(ScheduleSchema, init as ScheduleInit);
  const f = (name: string) => `${prefix}.${name}`;
  const name = text(f("name"), s.name, { min: 1, max: NAME_MAX_CHARS });
  const { timing, startAt, endAt } = timingOf(s, f);
  if (!s.task) throw invalid(f("task"), "is required: give the TaskSpec to enqueue on each tick");
  const t = s.task;
  if (t.runTime) throw invalid(f("task.run_time"), "is set: a fire's task runs at its tick (use jitter)");
  if (t.delay) throw invalid(f("task.delay"), "is set: a fire's task runs at its tick (use jitter)");
  if (t.idempotencyKey !== "") {
    throw invalid(f("task.idempotency_key"), "is set: each fire's task gets its tick's key");
  }
  if (t.dependsOn.length || t.dependsOnBatchIndex.length) {
    throw invalid(f("task.depends_on"), "is set: a fire's task depends on nothing");
  }
  if (Object.keys(t.labels).length > MAX_LABELS - FIRE_LABELS) {
    throw invalid(
      f("task.labels"),
      `has more than ${MAX_LABELS - FIRE_LABELS}: each fire adds two of its own`,
    );
  }
  toNewTask(t, now, f("task"));
  const overlap = enumValue(f("overlap"), OverlapPolicySchema, s.overlap);
  const catchUp = enumValue(f("catch_up"), CatchUpPolicySchema, s.catchUp);
  return {
    name,
    timing,
    startAt,
    endAt,
    jitterMs: Math.round(duration(f("jitter"), s.jitter, JITTER_MS) ?? 0),
    taskSpec: toBinary(TaskSpecSchema, t),
    overlap: OVERLAP[overlap],
    catchUp: CATCH_UP[catchUp],
    catchUpWindowMs: Math.round(
      duration(f("catch_up_window"), s.catchUpWindow, CATCH_UP_WINDOW_MS) ?? CATCH_UP_WINDOW_MS.default,
    ),
    catchUpLimit: s.catchUpLimit === 0
      ? CATCH_UP_LIMIT.default
      : boundedInt(f("catch_up_limit"), s.catchUpLimit, CATCH_UP_LIMIT.min, CATCH_UP_LIMIT.max),
    labels: { ...validLabels(s.labels, f("labels")) },
  };
}

export const OVERLAP_TO_PROTO = {
  allow: OverlapPolicy.ALLOW,
  skip: OverlapPolicy.SKIP,
  buffer_one: OverlapPolicy.BUFFER_ONE,
  cancel_previous: OverlapPolicy.CANCEL_PREVIOUS,
} as const;

export const CATCH_UP_TO_PROTO = {
  skip: CatchUpPolicy.SKIP,
  latest: CatchUpPolicy.ONCE,
  all: CatchUpPolicy.ALL,
} as const;
