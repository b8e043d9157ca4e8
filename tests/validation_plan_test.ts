/**
 * The request-shape check works from a plan made once per message type (only the fields a
 * rule can refuse). These tests hold it to what the walk over every field refused: every
 * string, enum, float, Duration and Timestamp slot of every request of every service, in
 * process (validation_sweep_test.ts does the same over a real server), and message types
 * that hold themselves.
 */
import assert from "node:assert/strict";
import { create, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { checkMessage, planOf, SANITISED_FIELDS } from "../server/kit/request_shape.ts";
import { ALL_DESCS } from "../server/services.ts";
import { type Fields, type SlotKind, slotsOf } from "./_support/request_slots.ts";

function refusal(desc: DescMessage, message: Fields): string | undefined {
  try {
    checkMessage(desc, message);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.InvalidArgument);
    return error.rawMessage;
  }
}

const BAD: Record<SlotKind, () => unknown> = {
  string: () => "a\u0000b",
  enum: () => 99,
  number: () => NaN,
  duration: () => create(DurationSchema, { seconds: 10n, nanos: -1 }),
  timestamp: () => create(TimestampSchema, { seconds: 2n ** 62n }),
};

const GOOD: Record<SlotKind, () => unknown> = {
  string: () => "a\tb\nc",
  enum: () => 0,
  number: () => 1e300,
  duration: () => create(DurationSchema, { seconds: -5n }),
  timestamp: () => create(TimestampSchema, { seconds: 253_402_300_799n }),
};

Deno.test("every slot of every request: a bad value is refused naming its path, a good one passes", () => {
  const counts: Record<string, number> = {};
  for (const service of ALL_DESCS) {
    for (const method of service.methods) {
      for (const kind of Object.keys(BAD) as SlotKind[]) {
        for (const slot of slotsOf(method.input, kind)) {
          const where = `${service.name}/${method.name} ${slot.path}`;
          const good = create(method.input) as unknown as Fields;
          slot.put(good, GOOD[kind]());
          assert.equal(refusal(method.input, good), undefined, `${where} refused a good value`);

          const bad = create(method.input) as unknown as Fields;
          slot.put(bad, BAD[kind]());
          const message = refusal(method.input, bad);
          if (kind === "string" && SANITISED_FIELDS.has(`${slot.owner}.${slot.name}`)) {
            assert.equal(message, undefined, `${where} is cleaned, not refused`);
            continue;
          }
          assert.ok(message !== undefined, `${where} accepted ${kind} ${String(BAD[kind]())}`);
          // A map value's path carries its key (labels["k"]); every other path is the slot's own.
          const expected = slot.path.endsWith(" value")
            ? `${slot.path.slice(0, -" value".length)}["k"]`
            : slot.path;
          assert.ok(message.startsWith(`${expected} `), `${where}: ${message}`);
          counts[kind] = (counts[kind] ?? 0) + 1;
        }
      }
    }
  }
  assert.ok(
    counts.string > 100 && counts.enum >= 10 && counts.duration >= 1 && counts.timestamp >= 1,
    JSON.stringify(counts),
  );
});

Deno.test("a plan leaves out what no rule refuses, and is made once per message type", () => {
  for (const service of ALL_DESCS) {
    for (const method of service.methods) {
      const plan = planOf(method.input);
      assert.equal(planOf(method.input), plan);
      for (const { field } of plan.fields) {
        const scalar = (field as { scalar?: number }).scalar;
        assert.ok(
          !(field.fieldKind === "scalar" && scalar !== undefined &&
            ![ScalarType.DOUBLE, ScalarType.FLOAT, ScalarType.STRING].includes(scalar)),
          `${method.input.typeName}.${field.name} is an int, bool or bytes: nothing to check`,
        );
      }
    }
  }
});

Deno.test("a message type that holds itself is checked all the way down", () => {
  // google.protobuf.Value → Struct (map of Value) and ListValue (list of Value).
  const deep = create(ValueSchema, {
    kind: {
      case: "structValue",
      value: {
        fields: {
          a: {
            kind: { case: "listValue", value: { values: [{ kind: { case: "stringValue", value: "ok" } }] } },
          },
          b: {
            kind: { case: "listValue", value: { values: [{ kind: { case: "numberValue", value: NaN } }] } },
          },
        },
      },
    },
  });
  assert.match(
    refusal(ValueSchema, deep as unknown as Fields) ?? "accepted",
    /^struct_value\.fields\["b"\]\.list_value\.values\[0\]\.number_value is NaN/,
  );
  const nul = create(ValueSchema, {
    kind: {
      case: "structValue",
      value: { fields: { "k\u0000": { kind: { case: "boolValue", value: true } } } },
    },
  });
  assert.match(refusal(ValueSchema, nul as unknown as Fields) ?? "accepted", /^struct_value\.fields key /);
});
