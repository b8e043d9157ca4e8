import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { WorkerService } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { createDescriptorIndex, encodeFileWithImports } from "./descriptor_index.ts";
import { demoService } from "./_testing.ts";

const names = (encoded: Uint8Array[]) =>
  encoded.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);

Deno.test("descriptor index", async (t) => {
  await t.step("indexes the services' files and everything they import", () => {
    const index = createDescriptorIndex([TagService, WorkerService]);
    assert.deepEqual(index.serviceNames, ["taskmesh.tags.v1.TagService", "taskmesh.tasks.v1.WorkerService"]);
    assert.deepEqual([...index.files.keys()].sort(), [
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "taskmesh/tags/v1/tags.proto",
      "taskmesh/tasks/v1/tasks.proto",
      "taskmesh/tasks/v1/worker.proto",
    ]);
    // Symbols of imported files resolve too: a client describing a message field's type asks for them.
    assert.equal(
      index.symbols.get("google.protobuf.Timestamp")?.proto.name,
      "google/protobuf/timestamp.proto",
    );
    assert.equal(
      index.symbols.get("taskmesh.tags.v1.TagService.GetTag")?.proto.name,
      "taskmesh/tags/v1/tags.proto",
    );
  });

  await t.step("names nested messages, enums, values, fields, oneofs and extensions", () => {
    const index = createDescriptorIndex([demoService(), Health]);
    for (
      const symbol of [
        "demo.v1.DemoService",
        "demo.v1.DemoService.Poke",
        "demo.v1.Outer",
        "demo.v1.Outer.inner",
        "demo.v1.Outer.Inner",
        "demo.v1.Outer.Inner.mood",
        "demo.v1.Outer.Inner.Mood",
        "demo.v1.Outer.Inner.MOOD_HAPPY",
        "demo.v1.Outer.Inner.Mood.MOOD_HAPPY",
        "demo.v1.Outer.note",
      ]
    ) {
      assert.equal(index.symbols.get(symbol)?.proto.name, "demo/v1/demo.proto", symbol);
    }
    assert.equal(
      index.symbols.get("grpc.health.v1.HealthCheckResponse.SERVING")?.proto.name,
      "grpc/health/v1/health.proto",
    );
    assert.equal(index.symbols.get("demo.v1.Outer.Inner.Mood.MOOD_SAD"), undefined);
    assert.deepEqual(index.extensionsByExtendee.get("demo.v1.Outer")?.map((ext) => ext.number), [150]);
  });

  await t.step("names the proto3 optional oneofs protoc synthesizes", () => {
    const index = createDescriptorIndex([TagService]);
    assert.equal(
      index.symbols.get("taskmesh.tags.v1.UpdateTagRequest._name")?.proto.name,
      "taskmesh/tags/v1/tags.proto",
    );
    assert.equal(
      index.symbols.get("taskmesh.tags.v1.GetTagRequest.key")?.proto.name,
      "taskmesh/tags/v1/tags.proto",
    );
  });

  await t.step("sends the asked file always and each import once per stream", () => {
    const index = createDescriptorIndex([TagService, WorkerService]);
    const sent = new Set<string>();
    const worker = index.files.get("taskmesh/tasks/v1/worker.proto");
    const tasks = index.files.get("taskmesh/tasks/v1/tasks.proto");
    assert.ok(worker && tasks);
    assert.deepEqual(names(encodeFileWithImports(index, worker, sent)), [
      "taskmesh/tasks/v1/worker.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "taskmesh/tasks/v1/tasks.proto",
    ]);
    assert.deepEqual(names(encodeFileWithImports(index, tasks, sent)), ["taskmesh/tasks/v1/tasks.proto"]);
    assert.deepEqual(names(encodeFileWithImports(index, worker, sent)), ["taskmesh/tasks/v1/worker.proto"]);
    // A fresh stream remembers nothing.
    assert.deepEqual(names(encodeFileWithImports(index, tasks, new Set())), [
      "taskmesh/tasks/v1/tasks.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
    ]);
  });

  await t.step("serializes each file as the generated descriptor describes it", () => {
    const index = createDescriptorIndex([TagService]);
    const decoded = fromBinary(FileDescriptorProtoSchema, index.encoded.get("taskmesh/tags/v1/tags.proto")!);
    assert.deepEqual(decoded.dependency, ["google/protobuf/timestamp.proto"]);
    assert.equal(decoded.package, "taskmesh.tags.v1");
    assert.deepEqual(decoded.service[0].method.map((m) => m.name), TagService.methods.map((m) => m.name));
  });
});
