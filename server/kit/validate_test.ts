import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStateSchema } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  boundedInt,
  boundedNumber,
  checkDurationShape,
  checkTimestampShape,
  duration,
  enumValue,
  formatMs,
  text,
  timestamp,
  uuid,
} from "./validate.ts";

/** Asserts an InvalidArgument whose message starts with the field and matches `problem`. */
function refuses(fn: () => unknown, field: string, problem: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.InvalidArgument);
    assert.ok(error.rawMessage.startsWith(`${field} `), error.rawMessage);
    assert.match(error.rawMessage, problem);
    return true;
  });
}

Deno.test("text: control characters, lengths in characters, lines only where allowed", () => {
  assert.equal(text("f", "héllo 🌍", { max: 7 }), "héllo 🌍", "counts code points, not UTF-16 units");
  refuses(() => text("f", "a\u0000b", { max: 10 }), "f", /control character/);
  refuses(() => text("f", "a\u009bb", { max: 10, lines: true }), "f", /control character/);
  refuses(() => text("f", "a\nb", { max: 10 }), "f", /control character/);
  assert.equal(text("f", "a\nb\tc\r", { max: 10, lines: true }), "a\nb\tc\r");
  refuses(() => text("f", "x".repeat(11), { max: 10 }), "f", /11 characters long: the most is 10/);
  refuses(() => text("f", "x".repeat(1_000_000), { max: 10 }), "f", /the most is 10/);
  refuses(() => text("f", "", { min: 1, max: 10 }), "f", /is required/);
});

Deno.test("numbers: whole and finite within their bounds", () => {
  assert.equal(boundedInt("n", 9, 0, 9), 9);
  refuses(() => boundedInt("n", 10, 0, 9), "n", /from 0 to 9/);
  refuses(() => boundedInt("n", 1.5, 0, 9), "n", /whole number/);
  assert.equal(boundedNumber("x", 1.5, 1, 100), 1.5);
  for (const bad of [NaN, Infinity, -Infinity, 0.5, 101]) {
    refuses(() => boundedNumber("x", bad, 1, 100), "x", /number/);
  }
});

Deno.test("uuid and enum values", () => {
  const id = crypto.randomUUID().toUpperCase();
  assert.equal(uuid("id", id), id.toLowerCase());
  refuses(() => uuid("id", "x"), "id", /not a valid id/);
  assert.equal(enumValue("state", TaskStateSchema, 3), 3);
  assert.equal(enumValue("state", TaskStateSchema, 0), 0);
  refuses(() => enumValue("state", TaskStateSchema, 0, false), "state", /not a known TaskState/);
  refuses(
    () => enumValue("state", TaskStateSchema, 99),
    "state",
    /99, not a known TaskState: use one of .*QUEUED/,
  );
});

Deno.test("durations: well-formed as the well-known type says, then within the field's bounds", () => {
  const d = (seconds: bigint, nanos = 0) => create(DurationSchema, { seconds, nanos });
  checkDurationShape("d", d(-3n, -5));
  refuses(() => checkDurationShape("d", d(3n, -5)), "d", /opposite signs/);
  refuses(() => checkDurationShape("d", d(-3n, 5)), "d", /opposite signs/);
  refuses(() => checkDurationShape("d", d(0n, 1_000_000_000)), "d", /nanos out of range/);
  refuses(() => checkDurationShape("d", d(315_576_000_001n)), "d", /out of range/);
  assert.equal(duration("d", undefined, { min: 0, max: 1000 }), undefined);
  assert.equal(duration("d", d(1n, 500_000_000), { min: 0, max: 2000 }), 1500);
  refuses(() => duration("d", d(3_000_000n), { min: 250, max: 3600_000 }), "d", /give from 250ms to 1h/);
  refuses(() => duration("d", d(-1n), { min: 0, max: 1000 }), "d", /from 0ms to 1s/);
});

Deno.test("timestamps: years 0001 to 9999, nanos in range, then the field's bounds", () => {
  const ts = (seconds: bigint, nanos = 0) => create(TimestampSchema, { seconds, nanos });
  checkTimestampShape("t", ts(-62_135_596_800n));
  checkTimestampShape("t", ts(253_402_300_799n, 999_999_999));
  refuses(() => checkTimestampShape("t", ts(253_402_300_800n)), "t", /year 0001 to 9999/);
  refuses(() => checkTimestampShape("t", ts(2n ** 62n)), "t", /year 0001 to 9999/);
  refuses(() => checkTimestampShape("t", ts(0n, -1)), "t", /nanos out of range/);
  assert.equal(timestamp("t", ts(1n, 2_000_000)), 1002);
  refuses(() => timestamp("t", ts(10n), { max: 5000, says: "soon" }), "t", /give a time soon/);
});

Deno.test("formatMs says bounds as a person reads them", () => {
  assert.deepEqual([250, 1000, 90_000, 3600_000, 86_400_000 * 365].map(formatMs), [
    "250ms",
    "1s",
    "90s",
    "1h",
    "365d",
  ]);
});
