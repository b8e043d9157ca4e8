/**
 * The validation kit: one way, for every service, to check a request field and refuse it
 * with InvalidArgument naming the field ("<field> <what is wrong>: <what to do>").
 * Services call these for what a field means; `request_shape.ts` applies the checks
 * that hold for every field of every message before any handler runs.
 */
import type { DescEnum } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";

export function invalid(field: string, problem: string): ConnectError {
  return new ConnectError(`${field} ${problem}`, Code.InvalidArgument);
}

/** Every C0 and C1 control character and DEL. */
// deno-lint-ignore no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The same, less line feed, carriage return and tab: what free text may hold. */
// deno-lint-ignore no-control-regex
export const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Length in Unicode code points, as a person counts characters. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export interface TextRules {
  /** Fewest characters (default 0: may be empty). */
  min?: number;
  /** Most characters. */
  max: number;
  /** Free text that may span lines (tab, LF, CR allowed); otherwise one line, no control character. */
  lines?: boolean;
}

/** A string within its length and without control characters (Postgres cannot store NUL at all). */
export function text(field: string, value: string, rules: TextRules): string {
  if ((rules.lines ? CONTROL_EXCEPT_LINES : CONTROL).test(value)) {
    throw invalid(
      field,
      rules.lines
        ? "contains a control character: keep to printable text and line breaks"
        : "contains a control character: remove line breaks, tabs, NUL and other control characters",
    );
  }
  const min = rules.min ?? 0;
  // Cheap bound first, so a huge string is not walked to count its characters.
  const chars = value.length > rules.max * 2 ? value.length : charCount(value);
  if (chars > rules.max) throw invalid(field, `is ${chars} characters long: the most is ${rules.max}`);
  if (chars < min) {
    throw invalid(field, min === 1 ? "is required: give a value" : `must be at least ${min} characters`);
  }
  return value;
}

/** An integer in [min, max]. */
export function boundedInt(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `is ${value}: give a whole number from ${min} to ${max}`);
  }
  return value;
}

/** A finite number in [min, max] (NaN and the infinities are refused). */
export function boundedNumber(field: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw invalid(field, `is ${value}: give a number from ${min} to ${max}`);
  }
  return value;
}

export function uuid(field: string, value: string): string {
  if (!UUID.test(value)) throw invalid(field, "is not a valid id: pass an id as returned by the API");
  return value.toLowerCase();
}

/** A value the generated enum declares; `allowUnspecified` false also refuses 0. */
export function enumValue<T extends number>(
  field: string,
  desc: DescEnum,
  value: T,
  allowUnspecified = true,
): T {
  const known = desc.values.some((v) => v.number === value) && (allowUnspecified || value !== 0);
  if (!known) {
    const names = desc.values.filter((v) => v.number !== 0).map((v) => v.localName).join(", ");
    throw invalid(field, `is ${value}, not a known ${desc.name}: use one of ${names}`);
  }
  return value;
}

// The ranges google/protobuf/duration.proto and timestamp.proto define.
const MAX_DURATION_SECONDS = 315_576_000_000n;
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z
const MAX_NANOS = 999_999_999;

/** A Duration as the well-known type defines it: seconds within ±10,000 years, nanos of the same sign. */
export function checkDurationShape(field: string, d: Duration): void {
  if (d.seconds > MAX_DURATION_SECONDS || d.seconds < -MAX_DURATION_SECONDS) {
    throw invalid(field, "is out of range: a duration is at most ±315,576,000,000 seconds");
  }
  if (!Number.isInteger(d.nanos) || d.nanos > MAX_NANOS || d.nanos < -MAX_NANOS) {
    throw invalid(field, "has nanos out of range: give nanos within ±999,999,999");
  }
  if ((d.seconds > 0n && d.nanos < 0) || (d.seconds < 0n && d.nanos > 0)) {
    throw invalid(field, "has seconds and nanos of opposite signs: give both with the same sign");
  }
}

/** A Timestamp as the well-known type defines it: years 0001 to 9999, nanos 0–999,999,999. */
export function checkTimestampShape(field: string, ts: Timestamp): void {
  if (ts.seconds < MIN_TIMESTAMP_SECONDS || ts.seconds > MAX_TIMESTAMP_SECONDS) {
    throw invalid(field, "is out of range: give a time from year 0001 to 9999");
  }
  if (!Number.isInteger(ts.nanos) || ts.nanos < 0 || ts.nanos > MAX_NANOS) {
    throw invalid(field, "has nanos out of range: give nanos from 0 to 999,999,999");
  }
}

/** "250ms", "30s", "5m", "24h", "365d": bounds as a person reads them. */
export function formatMs(ms: number): string {
  const units: [number, string][] = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "m"], [1000, "s"]];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export interface DurationRules {
  /** Least milliseconds (inclusive). */
  min: number;
  /** Most milliseconds (inclusive). */
  max: number;
}

/** A Duration in milliseconds within [min, max], or undefined when unset. */
export function duration(field: string, d: Duration | undefined, rules: DurationRules): number | undefined {
  if (!d) return undefined;
  checkDurationShape(field, d);
  const ms = Number(d.seconds) * 1000 + d.nanos / 1_000_000;
  if (ms < rules.min || ms > rules.max) {
    throw invalid(field, `is ${formatMs(ms)}: give from ${formatMs(rules.min)} to ${formatMs(rules.max)}`);
  }
  return ms;
}

export interface TimestampRules {
  /** Earliest epoch milliseconds (inclusive), if any. */
  min?: number;
  /** Latest epoch milliseconds (inclusive), if any. */
  max?: number;
  /** How the bound is said in the error, e.g. "at most 365 days ahead". */
  says?: string;
}

/** A Timestamp in epoch milliseconds, well-formed and within the rules, or undefined when unset. */
export function timestamp(
  field: string,
  ts: Timestamp | undefined,
  rules: TimestampRules = {},
): number | undefined {
  if (!ts) return undefined;
  checkTimestampShape(field, ts);
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
  if ((rules.min !== undefined && ms < rules.min) || (rules.max !== undefined && ms > rules.max)) {
    throw invalid(field, `is out of range: give a time ${rules.says ?? "within the allowed range"}`);
  }
  return ms;
}
