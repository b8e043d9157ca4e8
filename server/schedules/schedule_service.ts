/**
 * The schedule RPCs of TaskService: they validate, translate messages and call the
 * process's Schedules (schedules.ts); nothing here touches SQL or the task engine.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type Schedule,
  type ScheduleFire,
  ScheduleFireOutcome,
  ScheduleFireSchema,
  ScheduleSchema,
  TaskService,
  TaskSpecSchema,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { pageSize } from "../kit/paging.ts";
import { boundedInt, invalid, text, timestamp, uuid } from "../kit/validate.ts";
import { validLabels } from "../tasks/_spec.ts";
import { stateToProto } from "../tasks/_convert.ts";
import type { TaskState } from "../tasks/model.ts";
import { CATCH_UP_TO_PROTO, OVERLAP_TO_PROTO, TIMES, timingOf } from "./definition.ts";
import { describeTiming } from "./describe.ts";
import { type Fire, NOTE_MAX_CHARS, type ScheduleRecord } from "./model.ts";
import type { Schedules } from "./schedules.ts";
import { preview } from "./timing.ts";

const OUTCOMES = {
  enqueued: ScheduleFireOutcome.ENQUEUED,
  buffered: ScheduleFireOutcome.BUFFERED,
  skipped: ScheduleFireOutcome.SKIPPED,
  failed: ScheduleFireOutcome.FAILED,
} as const;

export const PREVIEW_COUNT = { min: 1, max: 100, default: 10 };

export function fireToProto(f: Fire): ScheduleFire {
  return create(ScheduleFireSchema, {
    scheduleId: f.scheduleId,
    tickTime: timestampFromMs(f.tickAt),
    fireTime: timestampFromMs(f.firedAt),
    taskId: f.taskId ?? "",
    taskState: f.taskState ? stateToProto(f.taskState as TaskState) : undefined,
    outcome: OUTCOMES[f.outcome],
    manual: f.manual,
    message: f.message,
  });
}

export function scheduleToProto(s: ScheduleRecord): Schedule {
  const t = s.timing;
  const time = (ms: number | null) => ms === null ? undefined : timestampFromMs(ms);
  return create(ScheduleSchema, {
    id: s.id,
    name: s.name,
    cron: t.kind === "cron" ? t.cron : "",
    timeZone: t.kind === "cron" ? t.timeZone : "",
    interval: t.kind === "interval" ? durationFromMs(t.intervalMs) : undefined,
    anchorTime: t.kind === "interval" && t.anchorAt !== 0 ? timestampFromMs(t.anchorAt) : undefined,
    onceTime: t.kind === "once" ? timestampFromMs(t.at) : undefined,
    startTime: time(s.startAt),
    endTime: time(s.endAt),
    jitter: s.jitterMs ? durationFromMs(s.jitterMs) : undefined,
    task: fromBinary(TaskSpecSchema, s.taskSpec),
    overlap: OVERLAP_TO_PROTO[s.overlap],
    catchUp: CATCH_UP_TO_PROTO[s.catchUp],
    catchUpWindow: durationFromMs(s.catchUpWindowMs),
    catchUpLimit: s.catchUpLimit,
    labels: s.labels,
    paused: s.paused,
    pauseNote: s.pauseNote,
    nextFireTime: time(s.nextFireAt),
    lastFireTime: time(s.lastFireAt),
    createTime: timestampFromMs(s.createdAt),
    updateTime: timestampFromMs(s.updatedAt),
    description: describeTiming(s.timing),
    lastFire: s.lastFire ? fireToProto(s.lastFire) : undefined,
  });
}

const scheduleId = (id: string) => uuid("id", id);

export function scheduleServiceImpl(schedules: Schedules): Partial<ServiceImpl<typeof TaskService>> {
  return {
    async createSchedule(req) {
      return { schedule: scheduleToProto(await schedules.create(req.schedule ?? invalidSchedule())) };
    },
    async getSchedule(req) {
      return { schedule: scheduleToProto(await schedules.get(scheduleId(req.id))) };
    },
    async listSchedules(req) {
      const page = await schedules.list(
        {
          paused: req.paused,
          labels: Object.keys(req.labels).length ? validLabels(req.labels) : undefined,
        },
        pageSize(req.pageSize),
        req.pageToken,
      );
      return { schedules: page.items.map(scheduleToProto), nextPageToken: page.nextPageToken };
    },
    async updateSchedule(req) {
      const id = scheduleId(req.id);
      return { schedule: scheduleToProto(await schedules.update(id, req.schedule ?? invalidSchedule())) };
    },
    async pauseSchedule(req) {
      const id = scheduleId(req.id);
      const note = text("note", req.note, { max: NOTE_MAX_CHARS });
      const s = req.paused ? await schedules.pause(id, note) : await schedules.resume(id);
      return { schedule: scheduleToProto(s) };
    },
    async resumeSchedule(req) {
      return { schedule: scheduleToProto(await schedules.resume(scheduleId(req.id))) };
    },
    async deleteSchedule(req) {
      await schedules.delete(scheduleId(req.id));
      return {};
    },
    async triggerSchedule(req) {
      return { fire: fireToProto(await schedules.trigger(scheduleId(req.id))) };
    },
    async listScheduleFires(req) {
      const page = await schedules.fires(scheduleId(req.id), pageSize(req.pageSize), req.pageToken);
      return { fires: page.items.map(fireToProto), nextPageToken: page.nextPageToken };
    },
    previewSchedule(req) {
      if (!req.schedule) throw invalid("schedule", "is required");
      const bounds = timingOf(req.schedule, (name) => `schedule.${name}`);
      const count = req.count === 0
        ? PREVIEW_COUNT.default
        : boundedInt("count", req.count, PREVIEW_COUNT.min, PREVIEW_COUNT.max);
      const from = timestamp("after", req.after, TIMES) ?? schedules.rt.clock.now();
      return {
        fireTimes: preview(bounds, from, count).map(timestampFromMs),
        description: describeTiming(bounds.timing),
      };
    },
  };
}

function invalidSchedule(): never {
  throw invalid("schedule", "is required");
}
