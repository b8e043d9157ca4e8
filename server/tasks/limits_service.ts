/**
 * The TaskService RPCs of limits and per-type defaults: ConfigureQueue,
 * ConfigureLimitGroup, ListLimitGroups, SetTaskTypeDefaults and ListTaskTypeDefaults.
 * Each change commits in Postgres, then goes to the broker (TasksRuntime.mirror: a broker
 * that fails is set right by the next rebuild, which sets every limit again).
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type LimitGroup,
  LimitGroupSchema,
  type QueueInfo,
  type TaskService,
  type TaskTypeDefaults as TaskTypeDefaultsProto,
  TaskTypeDefaultsSchema,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { decodePageToken, encodePageToken, pageSize } from "../kit/paging.ts";
import { boundedInt, boundedNumber, duration, invalid } from "../kit/validate.ts";
import type { Limits, NamedLimits, TypeDefaults } from "./model.ts";
import type { TasksRuntime } from "./runtime.ts";
import { DEFAULT_BACKOFF, TIMEOUT_MS, validBackoff, validGroup, validQueue, validType } from "./_spec.ts";
import type { TypeDefaultsCache } from "./type_defaults.ts";

/** The most any limit may say: enough for any real queue, and a bound a typo cannot pass. */
export const MAX_LIMIT = 1_000_000;

/** Limits as a request gives them: 0 is none; a burst of 0 with a rate is one second's worth. */
export function validLimits(
  req: { concurrencyLimit: number; rateLimitPerSecond: number; rateLimitBurst: number },
) {
  const concurrency = boundedInt("concurrency_limit", req.concurrencyLimit, 0, MAX_LIMIT);
  const ratePerSecond = boundedNumber("rate_limit_per_second", req.rateLimitPerSecond, 0, MAX_LIMIT);
  const burst = boundedInt("rate_limit_burst", req.rateLimitBurst, 0, MAX_LIMIT);
  if (burst > 0 && ratePerSecond === 0) {
    throw invalid(
      "rate_limit_burst",
      "is set without rate_limit_per_second: set the rate too, or leave both 0",
    );
  }
  const limits: Limits = {
    concurrency,
    ratePerSecond,
    burst: ratePerSecond > 0 ? burst || Math.max(1, Math.ceil(ratePerSecond)) : 0,
  };
  return limits;
}

function defaultsToProto(d: TypeDefaults): TaskTypeDefaultsProto {
  return create(TaskTypeDefaultsSchema, {
    type: d.type,
    queue: d.queue ?? "",
    maxAttempts: d.maxAttempts ?? 0,
    backoff: d.backoff
      ? {
        initialDelay: durationFromMs(d.backoff.initialMs),
        maxDelay: durationFromMs(d.backoff.maxMs),
        multiplier: d.backoff.multiplier,
      }
      : undefined,
    timeout: d.timeoutMs === null ? undefined : durationFromMs(d.timeoutMs),
    updateTime: timestampFromMs(d.updatedAt),
  });
}

export function limitsServiceImpl(
  rt: TasksRuntime,
  defaults: TypeDefaultsCache,
  queueInfo: (name: string) => Promise<QueueInfo>,
): Pick<
  ServiceImpl<typeof TaskService>,
  | "configureQueue"
  | "configureLimitGroup"
  | "listLimitGroups"
  | "setTaskTypeDefaults"
  | "listTaskTypeDefaults"
> {
  const groupToProto = async (g: NamedLimits): Promise<LimitGroup> =>
    create(LimitGroupSchema, {
      name: g.name,
      concurrencyLimit: g.concurrency,
      rateLimitPerSecond: g.ratePerSecond,
      rateLimitBurst: g.burst,
      running: BigInt(await rt.groupRunning(g.name).catch(() => 0)),
    });
  return {
    async configureQueue(req) {
      const queue = validQueue(req.queue);
      const limits = validLimits(req);
      await rt.setLimits({ queue }, limits);
      return { queue: await queueInfo(queue) };
    },
    async configureLimitGroup(req) {
      const group = validGroup(req.group);
      const limits = validLimits(req);
      await rt.setLimits({ group }, limits);
      return { group: await groupToProto({ name: group, ...limits }) };
    },
    async listLimitGroups(req) {
      const size = pageSize(req.pageSize);
      const query = { list: "limit_groups" };
      const after = (decodePageToken(req.pageToken, query, ["text"])?.[0] as string | undefined) ?? "";
      const rows = await rt.limitGroups(after, size + 1);
      const page = rows.slice(0, size);
      return {
        groups: await Promise.all(page.map(groupToProto)),
        nextPageToken: rows.length > size ? encodePageToken(query, [page[page.length - 1].name]) : "",
      };
    },
    async setTaskTypeDefaults(req) {
      const d = req.defaults;
      if (!d) throw invalid("defaults", "is required");
      const type = validType(d.type, "defaults.type");
      const stored = {
        type,
        queue: d.queue === "" ? null : validQueue(d.queue, "defaults.queue"),
        maxAttempts: d.maxAttempts === 0 ? null : boundedInt("defaults.max_attempts", d.maxAttempts, 1, 100),
        backoff: d.backoff ? validBackoff(d.backoff, "defaults.backoff", DEFAULT_BACKOFF) : null,
        timeoutMs: duration("defaults.timeout", d.timeout, TIMEOUT_MS) ?? null,
      };
      const now = rt.clock.now();
      await rt.setTypeDefaults(stored);
      defaults.invalidate();
      return { defaults: defaultsToProto({ ...stored, updatedAt: now }) };
    },
    async listTaskTypeDefaults(req) {
      const size = pageSize(req.pageSize);
      const query = { list: "task_type_defaults" };
      const after = (decodePageToken(req.pageToken, query, ["text"])?.[0] as string | undefined) ?? "";
      const rows = await rt.typeDefaults(after, size + 1);
      const page = rows.slice(0, size);
      return {
        defaults: page.map(defaultsToProto),
        nextPageToken: rows.length > size ? encodePageToken(query, [page[page.length - 1].type]) : "",
      };
    },
  };
}
