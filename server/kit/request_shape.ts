/**
 * The checks that hold for every field of every request, whatever the method: applied by
 * one interceptor to each incoming message (each message of a stream too), walking the
 * message by its generated descriptor so a field added tomorrow is covered the day it
 * lands. A refusal is InvalidArgument naming the field path ("task.labels[\"k\"]").
 *
 * - strings: no control character other than tab, line feed and carriage return
 *   (Postgres cannot store NUL; an escape would reach an operator's terminal);
 * - enums: a value the contract declares (proto3 keeps unknown numbers: 99 is not "any");
 * - Duration and Timestamp: well-formed as their well-known types define;
 * - float and double: finite.
 *
 * A worker's own free text (a failed attempt's message, code and stack, a progress message) is the
 * exception: it often carries what a handler caught, colour codes included, and refusing
 * it would end the worker's stream. Its control characters are replaced with U+FFFD instead.
 *
 * What a field means (its length, its range, whether it is required) stays with the
 * service, which checks it with `validate.ts`. On the way back, an error message that
 * echoes a huge field is cut, so it still fits in a header.
 */
import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  checkDurationShape,
  checkTimestampShape,
  CONTROL_EXCEPT_LINES,
  enumValue,
  invalid,
} from "./validate.ts";

type Fields = Record<string, unknown>;

/** Fields whose control characters are replaced rather than refused, by "<message type>.<field>". */
export const SANITISED_FIELDS: ReadonlySet<string> = new Set([
  "taskmesh.tasks.v1.TaskError.message",
  "taskmesh.tasks.v1.TaskError.code",
  "taskmesh.tasks.v1.TaskError.stack",
  "taskmesh.tasks.v1.ProgressUpdate.message",
]);
const CONTROL_EXCEPT_LINES_ALL = new RegExp(CONTROL_EXCEPT_LINES.source, "g");

/**
 * What to look at in one message type, worked out once from its descriptor: only the fields
 * that some rule can refuse (or that are cleaned), so a call pays for its strings, enums,
 * floats and the messages that hold them, never for a walk over ints, bools and bytes.
 */
export interface MessagePlan {
  fields: FieldPlan[];
  /** Still being worked out: a message type that (indirectly) holds itself. */
  building: boolean;
}

export interface FieldPlan {
  field: DescField;
  /** The oneof's local name when the field is a member of one. */
  oneof?: string;
  /** A worker's free text: control characters replaced, not refused. */
  sanitised: boolean;
}

const PLANS = new WeakMap<DescMessage, MessagePlan>();
const ENUM_NUMBERS = new WeakMap<DescEnum, ReadonlySet<number>>();

function isWellKnownShape(desc: DescMessage): boolean {
  return desc.typeName === "google.protobuf.Duration" || desc.typeName === "google.protobuf.Timestamp";
}

function scalarMayFail(type: ScalarType): boolean {
  return type === ScalarType.STRING || type === ScalarType.DOUBLE || type === ScalarType.FLOAT;
}

function messageMayFail(desc: DescMessage): boolean {
  if (isWellKnownShape(desc)) return true;
  const plan = planOf(desc);
  return plan.building || plan.fields.length > 0;
}

function fieldMayFail(field: DescField): boolean {
  switch (field.fieldKind) {
    case "scalar":
      return scalarMayFail(field.scalar);
    case "enum":
      return true;
    case "message":
      return messageMayFail(field.message);
    case "list":
      return field.listKind === "scalar"
        ? scalarMayFail(field.scalar)
        : field.listKind === "enum" || messageMayFail(field.message);
    case "map":
      if (field.mapKey === ScalarType.STRING) return true;
      return field.mapKind === "scalar"
        ? scalarMayFail(field.scalar)
        : field.mapKind === "enum" || messageMayFail(field.message);
  }
}

/** The plan of a message type, made on first use and kept for the process. */
export function planOf(desc: DescMessage): MessagePlan {
  let plan = PLANS.get(desc);
  if (plan) return plan;
  plan = { fields: [], building: true };
  PLANS.set(desc, plan);
  for (const field of desc.fields) {
    if (!fieldMayFail(field)) continue;
    plan.fields.push({
      field,
      oneof: field.oneof?.localName,
      sanitised: !field.oneof && field.fieldKind === "scalar" && field.scalar === ScalarType.STRING &&
        SANITISED_FIELDS.has(`${desc.typeName}.${field.name}`),
    });
  }
  plan.building = false;
  return plan;
}

function enumNumbers(desc: DescEnum): ReadonlySet<number> {
  let numbers = ENUM_NUMBERS.get(desc);
  if (!numbers) ENUM_NUMBERS.set(desc, numbers = new Set(desc.values.map((v) => v.number)));
  return numbers;
}

function join(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

/** Whether a scalar passes; the path of a refusal is only built when it does not. */
function scalarOk(type: ScalarType, value: unknown): boolean {
  if (type === ScalarType.STRING) return typeof value !== "string" || !CONTROL_EXCEPT_LINES.test(value);
  if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) {
    return typeof value !== "number" || Number.isFinite(value);
  }
  return true;
}

function checkScalar(type: ScalarType, value: unknown, path: string): void {
  if (type === ScalarType.STRING) {
    if (typeof value === "string" && CONTROL_EXCEPT_LINES.test(value)) {
      throw invalid(path, "contains a control character (NUL, escape…): send printable text only");
    }
  } else if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw invalid(path, `is ${value}: give a finite number`);
    }
  }
}

function enumOk(desc: DescEnum, value: unknown): boolean {
  return typeof value !== "number" || enumNumbers(desc).has(value);
}

function checkEnum(desc: DescEnum, value: unknown, path: string): void {
  if (typeof value === "number") enumValue(path, desc, value);
}

function checkNested(desc: DescMessage, value: unknown, path: string): void {
  if (value === undefined || value === null) return;
  if (desc.typeName === "google.protobuf.Duration") return checkDurationShape(path, value as Duration);
  if (desc.typeName === "google.protobuf.Timestamp") return checkTimestampShape(path, value as Timestamp);
  runPlan(planOf(desc), value as Fields, path);
}

function checkField(field: DescField, value: unknown, path: string): void {
  switch (field.fieldKind) {
    case "scalar":
      if (!scalarOk(field.scalar, value)) checkScalar(field.scalar, value, path);
      return;
    case "enum":
      if (!enumOk(field.enum, value)) checkEnum(field.enum, value, path);
      return;
    case "message":
      return checkNested(field.message, value, path);
    case "list": {
      const items = (value ?? []) as unknown[];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (field.listKind === "scalar") {
          if (!scalarOk(field.scalar, item)) checkScalar(field.scalar, item, `${path}[${i}]`);
        } else if (field.listKind === "enum") {
          if (!enumOk(field.enum, item)) checkEnum(field.enum, item, `${path}[${i}]`);
        } else checkNested(field.message, item, `${path}[${i}]`);
      }
      return;
    }
    case "map":
      for (const key in (value ?? {}) as Fields) {
        const item = (value as Fields)[key];
        if (field.mapKey === ScalarType.STRING && !scalarOk(ScalarType.STRING, key)) {
          checkScalar(ScalarType.STRING, key, `${path} key`);
        }
        const at = () => `${path}[${JSON.stringify(key.slice(0, 64))}]`;
        if (field.mapKind === "scalar") {
          if (!scalarOk(field.scalar, item)) checkScalar(field.scalar, item, at());
        } else if (field.mapKind === "enum") {
          if (!enumOk(field.enum, item)) checkEnum(field.enum, item, at());
        } else if (item !== undefined && item !== null) checkNested(field.message, item, at());
      }
      return;
  }
}

function runPlan(plan: MessagePlan, message: Fields, prefix: string): void {
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) {
    const { field, oneof, sanitised } = fields[i];
    let value: unknown;
    if (oneof !== undefined) {
      const chosen = message[oneof] as { case?: string; value?: unknown } | undefined;
      if (chosen?.case !== field.localName) continue;
      value = chosen.value;
    } else {
      value = message[field.localName];
    }
    if (value === undefined) continue;
    if (sanitised && typeof value === "string") {
      if (CONTROL_EXCEPT_LINES.test(value)) {
        message[field.localName] = value.replace(CONTROL_EXCEPT_LINES_ALL, "\uFFFD");
      }
      continue;
    }
    checkField(field, value, join(prefix, field.name));
  }
}

/** Throws InvalidArgument for the first field of `message` (a `desc`) that breaks a rule above. */
export function checkMessage(desc: DescMessage, message: Fields, prefix = ""): void {
  runPlan(planOf(desc), message, prefix);
}

async function* checkedStream<T>(desc: DescMessage, messages: AsyncIterable<T>): AsyncIterable<T> {
  for await (const message of messages) {
    checkMessage(desc, message as Fields);
    yield message;
  }
}

/** An error message longer than this is cut: it may echo a request field, and it travels in a header. */
export const MAX_ERROR_MESSAGE_CHARS = 1024;

function shortened(error: unknown): unknown {
  if (!(error instanceof ConnectError) || error.rawMessage.length <= MAX_ERROR_MESSAGE_CHARS) return error;
  const cut = new ConnectError(
    `${error.rawMessage.slice(0, MAX_ERROR_MESSAGE_CHARS)}…`,
    error.code,
    error.metadata,
    undefined,
    error.cause,
  );
  cut.details.push(...error.details);
  return cut;
}

/** Checks every request message before the handler sees it. */
export function createRequestShapeInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      checkMessage(req.method.input, req.message as Fields);
      try {
        return await next(req);
      } catch (error) {
        throw shortened(error);
      }
    }
    return await next({ ...req, message: checkedStream(req.method.input, req.message) });
  };
}
