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

function join(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
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

function checkEnum(desc: DescEnum, value: unknown, path: string): void {
  if (typeof value === "number") enumValue(path, desc, value);
}

function checkNested(desc: DescMessage, value: unknown, path: string): void {
  if (value === undefined || value === null) return;
  if (desc.typeName === "google.protobuf.Duration") return checkDurationShape(path, value as Duration);
  if (desc.typeName === "google.protobuf.Timestamp") return checkTimestampShape(path, value as Timestamp);
  checkMessage(desc, value as Fields, path);
}

function checkField(field: DescField, value: unknown, path: string): void {
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, value, path);
    case "enum":
      return checkEnum(field.enum, value, path);
    case "message":
      return checkNested(field.message, value, path);
    case "list": {
      const items = (value ?? []) as unknown[];
      items.forEach((item, i) => {
        const at = `${path}[${i}]`;
        if (field.listKind === "scalar") checkScalar(field.scalar, item, at);
        else if (field.listKind === "enum") checkEnum(field.enum, item, at);
        else checkNested(field.message, item, at);
      });
      return;
    }
    case "map":
      for (const [key, item] of Object.entries((value ?? {}) as Fields)) {
        if (field.mapKey === ScalarType.STRING) checkScalar(ScalarType.STRING, key, `${path} key`);
        const at = `${path}[${JSON.stringify(key.slice(0, 64))}]`;
        if (field.mapKind === "scalar") checkScalar(field.scalar, item, at);
        else if (field.mapKind === "enum") checkEnum(field.enum, item, at);
        else checkNested(field.message, item, at);
      }
      return;
  }
}

/** Throws InvalidArgument for the first field of `message` (a `desc`) that breaks a rule above. */
export function checkMessage(desc: DescMessage, message: Fields, prefix = ""): void {
  for (const field of desc.fields) {
    let value: unknown;
    if (field.oneof) {
      const chosen = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (chosen?.case !== field.localName) continue;
      value = chosen.value;
    } else {
      value = message[field.localName];
    }
    if (value === undefined) continue;
    if (typeof value === "string" && !field.oneof && SANITISED_FIELDS.has(`${desc.typeName}.${field.name}`)) {
      if (CONTROL_EXCEPT_LINES.test(value)) {
        message[field.localName] = value.replace(CONTROL_EXCEPT_LINES_ALL, "\uFFFD");
      }
      continue;
    }
    checkField(field, value, join(prefix, field.name));
  }
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
