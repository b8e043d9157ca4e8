/**
 * Every field of a kind reachable from a request message, found by walking its generated
 * descriptor (nested messages, oneofs, lists and maps included), with a way to put a
 * value in it. The validation sweep uses it to reach every field of every request.
 */
import { create, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

export type Fields = Record<string, unknown>;

/** What a slot holds: a string, an enum, a double or float, a Duration, a Timestamp. */
export type SlotKind = "string" | "enum" | "number" | "duration" | "timestamp";

export interface Slot {
  /** Where the field is, e.g. `task.labels key` or `tasks[0].type`. */
  path: string;
  /** The proto name of the field itself, which an error about it must name. */
  name: string;
  /** The full name of the message the field belongs to. */
  owner: string;
  put(target: Fields, value: unknown): void;
}

const WKT: Record<string, SlotKind> = {
  "google.protobuf.Duration": "duration",
  "google.protobuf.Timestamp": "timestamp",
};

function kindOf(field: DescField): SlotKind | undefined {
  switch (field.fieldKind) {
    case "enum":
      return "enum";
    case "message":
      return WKT[field.message.typeName];
    case "scalar":
    case "list":
    case "map": {
      if (field.fieldKind === "list" && field.listKind === "enum") return "enum";
      if (field.fieldKind === "list" && field.listKind === "message") return WKT[field.message.typeName];
      if (field.fieldKind === "map" && field.mapKind !== "scalar") return undefined;
      const scalar = (field as { scalar?: ScalarType }).scalar;
      if (scalar === ScalarType.STRING) return "string";
      if (scalar === ScalarType.DOUBLE || scalar === ScalarType.FLOAT) return "number";
      return undefined;
    }
  }
}

export function slotsOf(desc: DescMessage, kind: SlotKind, depth = 0): Slot[] {
  const slots: Slot[] = [];
  for (const field of desc.fields) {
    const current = (t: Fields) => {
      if (!field.oneof) return t[field.localName];
      const chosen = t[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      return chosen?.case === field.localName ? chosen.value : undefined;
    };
    const assign = (t: Fields, v: unknown) => {
      if (field.oneof) t[field.oneof.localName] = { case: field.localName, value: v };
      else t[field.localName] = v;
    };
    const name = field.name;
    if (kindOf(field) === kind) {
      if (field.fieldKind === "list") {
        slots.push({
          path: `${name}[0]`,
          name,
          owner: desc.typeName,
          put: (t, v) => t[field.localName] = [v],
        });
      } else if (field.fieldKind === "map") {
        if (kind === "string" && field.mapKey === ScalarType.STRING) {
          slots.push({
            path: `${name} key`,
            name,
            owner: desc.typeName,
            put: (t, v) => t[field.localName] = { [v as string]: "x" },
          });
        }
        slots.push({
          path: `${name} value`,
          name,
          owner: desc.typeName,
          put: (t, v) => t[field.localName] = { k: v },
        });
      } else {
        slots.push({ path: name, name, owner: desc.typeName, put: assign });
      }
      continue;
    }
    if (
      depth >= 3 ||
      field.fieldKind !== "message" && !(field.fieldKind === "list" && field.listKind === "message")
    ) {
      continue;
    }
    const message = field.message!;
    if (WKT[message.typeName]) continue;
    for (const inner of slotsOf(message, kind, depth + 1)) {
      if (field.fieldKind === "list") {
        slots.push({
          path: `${name}[0].${inner.path}`,
          name: inner.name,
          owner: inner.owner,
          put: (t, v) => {
            const item = (t[field.localName] as Fields[] | undefined)?.[0] ?? create(message);
            inner.put(item as Fields, v);
            t[field.localName] = [item];
          },
        });
      } else {
        slots.push({
          path: `${name}.${inner.path}`,
          name: inner.name,
          owner: inner.owner,
          put: (t, v) => {
            const nested = (current(t) as Fields | undefined) ?? create(message);
            inner.put(nested as Fields, v);
            assign(t, nested);
          },
        });
      }
    }
  }
  return slots;
}
