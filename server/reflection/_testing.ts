/** Test support for the reflection tests; not part of the folder's public face. */
import assert from "node:assert/strict";
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

// Our own protos have no nested messages and no extensions, so this file has both to show the index handles
// them: `demo.v1.Outer.Inner`, an enum nested in it, and an extension of Outer declared in Outer.
export function demoService(): DescService {
  const LABEL_OPTIONAL = FieldDescriptorProto_Label.OPTIONAL;
  const { STRING: TYPE_STRING, MESSAGE: TYPE_MESSAGE, ENUM: TYPE_ENUM } = FieldDescriptorProto_Type;
  const proto = create(FileDescriptorProtoSchema, {
    name: "demo/v1/demo.proto",
    package: "demo.v1",
    syntax: "proto2",
    messageType: [{
      name: "Outer",
      field: [{
        name: "inner",
        number: 1,
        label: LABEL_OPTIONAL,
        type: TYPE_MESSAGE,
        typeName: ".demo.v1.Outer.Inner",
      }],
      nestedType: [{
        name: "Inner",
        field: [{
          name: "mood",
          number: 1,
          label: LABEL_OPTIONAL,
          type: TYPE_ENUM,
          typeName: ".demo.v1.Outer.Inner.Mood",
        }],
        enumType: [{
          name: "Mood",
          value: [{ name: "MOOD_UNSPECIFIED", number: 0 }, { name: "MOOD_HAPPY", number: 1 }],
        }],
      }],
      extensionRange: [{ start: 100, end: 200 }],
      extension: [{
        name: "note",
        number: 150,
        label: LABEL_OPTIONAL,
        type: TYPE_STRING,
        extendee: ".demo.v1.Outer",
      }],
    }],
    service: [{
      name: "DemoService",
      method: [{ name: "Poke", inputType: ".demo.v1.Outer", outputType: ".demo.v1.Outer.Inner" }],
    }],
  });
  const registry = createFileRegistry(proto, () => undefined);
  const service = registry.getService("demo.v1.DemoService");
  assert.ok(service);
  return service;
}
