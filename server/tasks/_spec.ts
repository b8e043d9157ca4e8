/**
 * Turns a submitted TaskSpec into a validated NewTask with defaults filled in, and holds
 * the bounds of every task field the API accepts. Bad input answers InvalidArgument
 * naming the field (server/kit/validate.ts) and changes nothing.
 */
import {
  DependencyCondition,
  DependencyConditionSchema,
  type TaskSpec,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  boundedInt,
  boundedNumber,
  duration,
  enumValue,
  formatMs,
  invalid,
  text,
  timestamp,
  uuid,
} from "../kit/validate.ts";
import type { NewTask } from "./model.ts";
import type { TypeDefaults } from "./model.ts";

export { invalid };

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

export const QUEUE_NAME = /^[a-z0-9_.-]{1,64}$/;
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_BATCH = 1000;
/** How far ahead a task may be delayed or scheduled (delay, run_time). */
export const MAX_DELAY_MS = 365 * DAY;
/** A task's per-attempt timeout. */
export const TIMEOUT_MS = { min: SECOND, max: DAY };
/** Either retry backoff delay (initial_delay, max_delay). */
export const BACKOFF_DELAY_MS = { min: 0, max: 7 * DAY };
export const MAX_LABELS = 16;
export const MAX_DEPENDENCIES = 1000;
export const TYPE_MAX_CHARS = 128;
export const IDEMPOTENCY_KEY_MAX_CHARS = 200;
export const LABEL_MAX_CHARS = 64;
export const CANCEL_REASON_MAX_CHARS = 500;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_MAX_ATTEMPTS = 5;

export function validQueue(name: string, field = "queue"): string {
  if (!QUEUE_NAME.test(name)) {
    throw invalid(
      field,
      `${JSON.stringify(name.slice(0, 80))} is not a queue name: use 1–64 of a-z 0-9 _ . -`,
    );
  }
  return name;
}

/** A limit group key: it becomes part of Redis keys, hence the small charset. */
export const LIMIT_GROUP = /^[A-Za-z0-9_.:@+-]{1,128}$/;

export function validGroup(group: string, field = "group"): string {
  if (!LIMIT_GROUP.test(group)) {
    throw invalid(
      field,
      `${JSON.stringify(group.slice(0, 80))} is not a limit group: use 1–128 of A-Z a-z 0-9 _ . : @ + -`,
    );
  }
  return group;
}

export function validTaskId(id: string, field = "id"): string {
  return uuid(field, id);
}

/** A task type, as Enqueue takes it and ListTasks filters by it. */
export function validType(type: string, field = "type"): string {
  return text(field, type, { min: 1, max: TYPE_MAX_CHARS });
}

/** Labels as a task carries them and as ListTasks filters by them. */
export function validLabels(labels: Record<string, string>, field = "labels"): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw invalid(field, `has ${entries.length} labels: the most is ${MAX_LABELS}`);
  }
  for (const [key, value] of entries) {
    text(`${field} key`, key, { min: 1, max: LABEL_MAX_CHARS });
    text(`${field}[${JSON.stringify(key)}]`, value, { max: LABEL_MAX_CHARS });
  }
  return labels;
}

/**
 * `prefix` names the task: "task" for Enqueue, "tasks[3]" in a batch. `defaults` holds
 * the per-type defaults of the fields left unset (type_defaults.ts).
 */
export function toNewTask(
  spec: TaskSpec | undefined,
  now: number,
  prefix: string,
  defaults: ReadonlyMap<string, TypeDefaults> = new Map(),
): NewTask {
  if (!spec) throw invalid(prefix, "is required");
  const f = (name: string) => `${prefix}.${name}`;
  const type = validType(spec.type, f("type"));
  const d = defaults.get(type);
  const queue = validQueue(spec.queue === "" ? d?.queue ?? "default" : spec.queue, f("queue"));
  if (spec.payload.length > MAX_PAYLOAD_BYTES) {
    throw invalid(f("payload"), `is ${spec.payload.length} bytes; the most is ${MAX_PAYLOAD_BYTES}`);
  }
  if (looksSealed(spec.payload)) {
    throw invalid(
      f("payload"),
      'is a JSON object with a "$sealed" key, which only the server may write: rename the key',
    );
  }
  const priority = boundedInt(f("priority"), spec.priority, 0, 9);
  const delay = duration(f("delay"), spec.delay, { min: 0, max: MAX_DELAY_MS });
  const runAt = timestamp(f("run_time"), spec.runTime, {
    max: now + MAX_DELAY_MS,
    says: `at most ${formatMs(MAX_DELAY_MS)} ahead (an earlier time runs at once)`,
  }) ?? now + (delay ?? 0);
  const maxAttempts = spec.maxAttempts === 0
    ? d?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
    : boundedInt(f("max_attempts"), spec.maxAttempts, 1, 100);
  const timeoutMs = duration(f("timeout"), spec.timeout, TIMEOUT_MS) ?? d?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const backoff = validBackoff(spec.backoff, f("backoff"), d?.backoff ?? DEFAULT_BACKOFF);
  const idempotencyKey = text(f("idempotency_key"), spec.idempotencyKey, { max: IDEMPOTENCY_KEY_MAX_CHARS });
  const labels = validLabels(spec.labels, f("labels"));
  if (spec.dependsOn.length > MAX_DEPENDENCIES || spec.dependsOnBatchIndex.length > MAX_DEPENDENCIES) {
    throw invalid(f("depends_on"), `names too many tasks: the most is ${MAX_DEPENDENCIES}`);
  }
  const dependsOn = spec.dependsOn.map((id, i) => validTaskId(id, `${f("depends_on")}[${i}]`));
  const condition = enumValue(f("dependency_condition"), DependencyConditionSchema, spec.dependencyCondition);
  const limitGroup = spec.limitGroup === "" ? "" : validGroup(spec.limitGroup, f("limit_group"));
  return {
    limitGroup,
    queue,
    type,
    payload: spec.payload,
    priority,
    runAt,
    maxAttempts,
    backoff,
    timeoutMs,
    idempotencyKey,
    labels,
    dependsOn,
    dependsOnBatchIndex: [...spec.dependsOnBatchIndex],
    condition: condition === DependencyCondition.ON_FAILURE
      ? "on_failure"
      : condition === DependencyCondition.ALWAYS
      ? "always"
      : "on_success",
  };
}

const SEALED_KEY = new TextEncoder().encode('"$sealed"');

/**
 * Whether a payload is a JSON object with a top-level `$sealed` key: the shape of a sealed
 * payload's reference (sealed_payloads.ts), which only the server writes. Parsed only when
 * the bytes hold the key at all.
 */
function looksSealed(payload: Uint8Array): boolean {
  if (indexOf(payload, SEALED_KEY) < 0) return false;
  try {
    const value = JSON.parse(new TextDecoder().decode(payload));
    return typeof value === "object" && value !== null && !Array.isArray(value) &&
      Object.hasOwn(value, "$sealed");
  } catch {
    return false;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: HOUR, multiplier: 2 };

/** A Backoff as submitted; each field left unset takes `base`'s. */
export function validBackoff(
  b: TaskSpec["backoff"],
  field: string,
  base: { initialMs: number; maxMs: number; multiplier: number },
) {
  return {
    initialMs: duration(`${field}.initial_delay`, b?.initialDelay, BACKOFF_DELAY_MS) ?? base.initialMs,
    maxMs: duration(`${field}.max_delay`, b?.maxDelay, BACKOFF_DELAY_MS) ?? base.maxMs,
    multiplier: b?.multiplier ? boundedNumber(`${field}.multiplier`, b.multiplier, 1, 100) : base.multiplier,
  };
}

/** EnqueueBatch: every task valid, batch references point backwards. */
export function toNewTasks(
  specs: TaskSpec[],
  now: number,
  defaults: ReadonlyMap<string, TypeDefaults> = new Map(),
): NewTask[] {
  if (specs.length < 1 || specs.length > MAX_BATCH) throw invalid("tasks", `must hold 1–${MAX_BATCH} tasks`);
  return specs.map((spec, i) => {
    const task = toNewTask(spec, now, `tasks[${i}]`, defaults);
    for (const ref of task.dependsOnBatchIndex) {
      if (ref < 0 || ref >= i) {
        throw invalid(`tasks[${i}].depends_on_batch_index`, "must name an earlier task of the batch");
      }
    }
    return task;
  });
}
