/** Domain records to their protobuf messages. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Attempt,
  AttemptOutcome,
  AttemptSchema,
  DependencyCondition,
  type QueueInfo,
  QueueInfoSchema,
  type Task,
  TaskSchema,
  TaskState,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { AttemptRecord, QueueStats, TaskError, TaskRecord, TaskState as State } from "./model.ts";

const STATES: Record<State, TaskState> = {
  waiting: TaskState.WAITING,
  scheduled: TaskState.SCHEDULED,
  queued: TaskState.QUEUED,
  running: TaskState.RUNNING,
  succeeded: TaskState.SUCCEEDED,
  failed: TaskState.FAILED,
  dead: TaskState.DEAD,
  cancelled: TaskState.CANCELLED,
};

export function stateToProto(state: State): TaskState {
  return STATES[state];
}

export function stateFromProto(state: TaskState): State | undefined {
  if (state === TaskState.UNSPECIFIED) return undefined;
  return (Object.keys(STATES) as State[]).find((k) => STATES[k] === state);
}

const OUTCOMES = {
  succeeded: AttemptOutcome.SUCCEEDED,
  failed: AttemptOutcome.FAILED,
  lease_expired: AttemptOutcome.LEASE_EXPIRED,
  timed_out: AttemptOutcome.TIMED_OUT,
  cancelled: AttemptOutcome.CANCELLED,
} as const;

function errorToProto(error: TaskError | null) {
  return error
    ? { message: error.message, code: error.code, retryable: error.retryable, stack: error.stack ?? "" }
    : undefined;
}

export function attemptToProto(a: AttemptRecord): Attempt {
  return create(AttemptSchema, {
    number: a.number,
    workerId: a.workerId,
    leaseId: a.leaseId,
    startTime: timestampFromMs(a.startedAt),
    endTime: a.endedAt === null ? undefined : timestampFromMs(a.endedAt),
    outcome: a.outcome ? OUTCOMES[a.outcome] : AttemptOutcome.UNSPECIFIED,
    error: errorToProto(a.error),
  });
}

export function taskToProto(t: TaskRecord, attempts: AttemptRecord[] = []): Task {
  return create(TaskSchema, {
    id: t.id,
    spec: {
      queue: t.queue,
      type: t.type,
      payload: t.payload,
      priority: t.priority,
      runTime: timestampFromMs(t.runAt),
      maxAttempts: t.maxAttempts,
      backoff: {
        initialDelay: durationFromMs(t.backoff.initialMs),
        maxDelay: durationFromMs(t.backoff.maxMs),
        multiplier: t.backoff.multiplier,
      },
      timeout: durationFromMs(t.timeoutMs),
      idempotencyKey: t.idempotencyKey,
      labels: t.labels,
      dependsOn: t.dependsOn,
      limitGroup: t.limitGroup ?? "",
      dependencyCondition: t.condition === "on_failure"
        ? DependencyCondition.ON_FAILURE
        : t.condition === "always"
        ? DependencyCondition.ALWAYS
        : DependencyCondition.ON_SUCCESS,
    },
    state: STATES[t.state],
    // Over the task's whole life, so it matches the numbers of its attempts.
    attemptCount: t.attemptNumber,
    runTime: timestampFromMs(t.runAt),
    createTime: timestampFromMs(t.createdAt),
    updateTime: timestampFromMs(t.updatedAt),
    finishTime: t.finishedAt === null ? undefined : timestampFromMs(t.finishedAt),
    progress: t.progress
      ? {
        percent: t.progress.percent,
        message: t.progress.message,
        updateTime: timestampFromMs(t.progress.updatedAt),
      }
      : undefined,
    output: t.output ?? new Uint8Array(),
    lastError: errorToProto(t.lastError),
    attempts: attempts.map(attemptToProto),
    scheduleId: t.scheduleId ?? "",
    cancelReason: t.cancelReason,
  });
}

export function queueToProto(q: QueueStats, workerCount: number): QueueInfo {
  return create(QueueInfoSchema, {
    name: q.name,
    paused: q.paused,
    waiting: BigInt(q.waiting),
    scheduled: BigInt(q.scheduled),
    queued: BigInt(q.queued),
    running: BigInt(q.running),
    dead: BigInt(q.dead),
    oldestQueuedAge: durationFromMs(q.oldestQueuedAgeMs),
    processedPerSecond: q.processedPerSecond,
    failedPerSecond: q.failedPerSecond,
    concurrencyLimit: q.concurrencyLimit,
    rateLimitPerSecond: q.ratePerSecond,
    rateLimitBurst: q.rateBurst,
    workerCount,
  });
}
