/**
 * Turns a submitted TaskSpec into a validated NewTask with defaults filled in. Bad
 * input answers InvalidArgument naming the field and changes nothing.
 */
import { type Duration, durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { DependencyCondition, type TaskSpec } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { NewTask } from "./model.ts";

export const QUEUE_NAME = /^[a-z0-9_.-]{1,64}$/;
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_BATCH = 1000;
const MAX_TIMEOUT_MS = 24 * 3600_000;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_MAX_ATTEMPTS = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function invalid(field: string, message: string): ConnectError {
  return new ConnectError(`${field}: ${message}`, Code.InvalidArgument);
}

export function validQueue(name: string, field = "queue"): string {
  if (!QUEUE_NAME.test(name)) {
    throw invalid(field, `"${name.slice(0, 80)}" is not a queue name: use 1–64 of a-z 0-9 _ . -`);
  }
  return name;
}

export function validTaskId(id: string, field = "id"): string {
  if (!UUID.test(id)) throw invalid(field, "must be a task id (a UUID)");
  return id.toLowerCase();
}

function nonNegativeMs(d: Duration | undefined, field: string): number | undefined {
  if (!d) return undefined;
  const ms = durationMs(d);
  if (!Number.isFinite(ms) || ms < 0) throw invalid(field, "must not be negative");
  return ms;
}

/** `index` names the task in a batch ("tasks[3].queue"); single enqueues pass "task". */
export function toNewTask(spec: TaskSpec | undefined, now: number, prefix: string): NewTask {
  if (!spec) throw invalid(prefix, "is required");
  const f = (name: string) => `${prefix}.${name}`;
  const queue = validQueue(spec.queue === "" ? "default" : spec.queue, f("queue"));
  if (spec.type.length < 1 || spec.type.length > 128) throw invalid(f("type"), "must be 1–128 characters");
  if (spec.payload.length > MAX_PAYLOAD_BYTES) {
    throw invalid(f("payload"), `is ${spec.payload.length} bytes; the most is ${MAX_PAYLOAD_BYTES}`);
  }
  if (spec.priority < 0 || spec.priority > 9) throw invalid(f("priority"), "must be 0–9");
  const delay = nonNegativeMs(spec.delay, f("delay"));
  const runAt = spec.runTime ? timestampMs(spec.runTime) : now + (delay ?? 0);
  if (!Number.isFinite(runAt)) throw invalid(f("run_time"), "is not a valid time");
  const maxAttempts = spec.maxAttempts === 0 ? DEFAULT_MAX_ATTEMPTS : spec.maxAttempts;
  if (maxAttempts < 1 || maxAttempts > 100) throw invalid(f("max_attempts"), "must be 1–100");
  const timeoutMs = nonNegativeMs(spec.timeout, f("timeout")) ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs < 1000 || timeoutMs > MAX_TIMEOUT_MS) throw invalid(f("timeout"), "must be from 1s to 24h");
  const backoff = {
    initialMs: nonNegativeMs(spec.backoff?.initialDelay, f("backoff.initial_delay")) ?? 1000,
    maxMs: nonNegativeMs(spec.backoff?.maxDelay, f("backoff.max_delay")) ?? 3600_000,
    multiplier: spec.backoff?.multiplier || 2,
  };
  if (backoff.multiplier < 1 || backoff.multiplier > 100) {
    throw invalid(f("backoff.multiplier"), "must be 1–100");
  }
  if (spec.idempotencyKey.length > 200) throw invalid(f("idempotency_key"), "must be at most 200 characters");
  const labels = Object.entries(spec.labels);
  if (labels.length > 16) throw invalid(f("labels"), "at most 16 labels");
  for (const [k, v] of labels) {
    if (k.length < 1 || k.length > 64 || v.length > 64) {
      throw invalid(f("labels"), "keys 1–64 and values ≤ 64 characters");
    }
  }
  const dependsOn = spec.dependsOn.map((id, i) => validTaskId(id, `${f("depends_on")}[${i}]`));
  const condition = spec.dependencyCondition === DependencyCondition.ON_FAILURE
    ? "on_failure"
    : spec.dependencyCondition === DependencyCondition.ALWAYS
    ? "always"
    : "on_success";
  return {
    queue,
    type: spec.type,
    payload: spec.payload,
    priority: spec.priority,
    runAt,
    maxAttempts,
    backoff,
    timeoutMs,
    idempotencyKey: spec.idempotencyKey,
    labels: spec.labels,
    dependsOn,
    dependsOnBatchIndex: [...spec.dependsOnBatchIndex],
    condition,
  };
}

/** EnqueueBatch: every task valid, batch references point backwards. */
export function toNewTasks(specs: TaskSpec[], now: number): NewTask[] {
  if (specs.length < 1 || specs.length > MAX_BATCH) throw invalid("tasks", `must hold 1–${MAX_BATCH} tasks`);
  return specs.map((spec, i) => {
    const task = toNewTask(spec, now, `tasks[${i}]`);
    for (const ref of task.dependsOnBatchIndex) {
      if (ref < 0 || ref >= i) {
        throw invalid(`tasks[${i}].depends_on_batch_index`, "must name an earlier task of the batch");
      }
    }
    return task;
  });
}
