import assert from "node:assert/strict";
import {
  create,
  createFileRegistry,
  type DescService,
  fromBinary,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { TaskService } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { demoService } from "./_testing.ts";
import { type ReflectionOptions, registerReflection } from "./mod.ts";

type Request = MessageInitShape<typeof v1.ServerReflectionRequestSchema>;
type Question = Request["messageRequest"];

const SERVICES = [Health, TagService, TaskService, WorkerService];

function clients(services: readonly DescService[] = SERVICES, options?: ReflectionOptions) {
  const transport = createRouterTransport((router) => registerReflection(router, services, options));
  return {
    v1: createClient(v1.ServerReflection, transport),
    v1alpha: createClient(v1alpha.ServerReflection, transport),
  };
}

/** One v1 stream: every question sent in order, every answer collected. */
async function askV1(client: ReturnType<typeof clients>["v1"], questions: Question[]) {
  async function* requests() {
    for (const messageRequest of questions) {
      yield create(v1.ServerReflectionRequestSchema, { messageRequest });
    }
  }
  const answers: v1.ServerReflectionResponse[] = [];
  for await (const answer of client.serverReflectionInfo(requests())) answers.push(answer);
  return answers;
}

function fileNames(answer: { messageResponse: { case: string | undefined; value?: unknown } }): string[] {
  assert.equal(answer.messageResponse.case, "fileDescriptorResponse", JSON.stringify(answer.messageResponse));
  const value = answer.messageResponse.value as v1.FileDescriptorResponse;
  return value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

function errorOf(answer: v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse) {
  assert.equal(answer.messageResponse.case, "errorResponse");
  return answer.messageResponse.value as v1.ErrorResponse;
}

const EXPECTED_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "taskmesh.tags.v1.TagService",
  "taskmesh.tasks.v1.TaskService",
  "taskmesh.tasks.v1.WorkerService",
];

Deno.test("server reflection in-process", async (t) => {
  await t.step(
    "list_services lists the registered services and reflection, and echoes the request",
    async () => {
      const [answer] = await askV1(clients().v1, [{ case: "listServices", value: "*" }]);
      assert.equal(answer.messageResponse.case, "listServicesResponse");
      assert.deepEqual(answer.messageResponse.value.service.map((s) => s.name), EXPECTED_SERVICES);
      assert.deepEqual(answer.originalRequest?.messageRequest, { case: "listServices", value: "*" });
    },
  );

  await t.step("file_containing_symbol answers with the file first, then imports not yet sent", async () => {
    const answers = await askV1(clients().v1, [
      { case: "fileContainingSymbol", value: "taskmesh.tasks.v1.WorkerService" },
      { case: "fileContainingSymbol", value: "taskmesh.tasks.v1.TaskService.Enqueue" },
      { case: "fileContainingSymbol", value: "taskmesh.tags.v1.TagService.GetTag" },
      { case: "fileContainingSymbol", value: "taskmesh.tags.v1.Tag" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.SERVING" },
      { case: "fileContainingSymbol", value: "taskmesh.tags.v1.Tag.name" },
      { case: "fileContainingSymbol", value: "google.protobuf.Duration" },
    ]);
    assert.deepEqual(fileNames(answers[0]), [
      "taskmesh/tasks/v1/worker.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "taskmesh/tasks/v1/tasks.proto",
    ]);
    // Everything below was already sent with worker.proto, so only the asked file comes again.
    assert.deepEqual(fileNames(answers[1]), ["taskmesh/tasks/v1/tasks.proto"]);
    assert.deepEqual(fileNames(answers[2]), ["taskmesh/tags/v1/tags.proto"]);
    assert.deepEqual(fileNames(answers[3]), ["taskmesh/tags/v1/tags.proto"]);
    assert.deepEqual(fileNames(answers[4]), ["grpc/health/v1/health.proto"]);
    assert.deepEqual(fileNames(answers[5]), ["grpc/health/v1/health.proto"]);
    assert.deepEqual(fileNames(answers[6]), ["taskmesh/tags/v1/tags.proto"]);
    assert.deepEqual(fileNames(answers[7]), ["google/protobuf/duration.proto"]);
    assert.equal(answers[1].originalRequest?.messageRequest.value, "taskmesh.tasks.v1.TaskService.Enqueue");
  });

  await t.step("a client can rebuild a service from what one stream sent", async () => {
    const answers = await askV1(clients().v1, [{
      case: "fileByFilename",
      value: "taskmesh/tags/v1/tags.proto",
    }]);
    assert.deepEqual(fileNames(answers[0]), [
      "taskmesh/tags/v1/tags.proto",
      "google/protobuf/timestamp.proto",
    ]);
    const value = answers[0].messageResponse.value as v1.FileDescriptorResponse;
    const file = value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    // A registry needs imports before importers.
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: file.reverse() }));
    const rebuilt = registry.getService("taskmesh.tags.v1.TagService");
    assert.deepEqual(rebuilt?.methods.map((m) => m.name), TagService.methods.map((m) => m.name));
    assert.equal(
      registry.getMessage("taskmesh.tags.v1.Tag")?.field.createTime.message?.typeName,
      "google.protobuf.Timestamp",
    );
  });

  await t.step("an unknown name is NOT_FOUND in-band and the stream goes on", async () => {
    const answers = await askV1(clients().v1, [
      { case: "fileContainingSymbol", value: "taskmesh.tags.v1.NoSuchThing" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: "fileContainingSymbol", value: "taskmesh.tags.v1.TagService" },
    ]);
    assert.equal(errorOf(answers[0]).errorCode, Code.NotFound);
    assert.match(errorOf(answers[0]).errorMessage, /taskmesh\.tags\.v1\.NoSuchThing/);
    assert.equal(errorOf(answers[1]).errorCode, Code.NotFound);
    assert.deepEqual(fileNames(answers[2]), [
      "taskmesh/tags/v1/tags.proto",
      "google/protobuf/timestamp.proto",
    ]);
  });

  await t.step("a request without a question is INVALID_ARGUMENT in-band", async () => {
    const answers = await askV1(clients().v1, [{ case: undefined }, { case: "listServices", value: "" }]);
    assert.equal(errorOf(answers[0]).errorCode, Code.InvalidArgument);
    assert.equal(answers[1].messageResponse.case, "listServicesResponse");
  });

  await t.step("extension questions: none declared in our files", async () => {
    const answers = await askV1(clients().v1, [
      { case: "allExtensionNumbersOfType", value: "taskmesh.tags.v1.Tag" },
      { case: "allExtensionNumbersOfType", value: "taskmesh.tags.v1.Nope" },
      {
        case: "fileContainingExtension",
        value: { containingType: "taskmesh.tags.v1.Tag", extensionNumber: 100 },
      },
    ]);
    assert.equal(answers[0].messageResponse.case, "allExtensionNumbersResponse");
    assert.equal(answers[0].messageResponse.value.baseTypeName, "taskmesh.tags.v1.Tag");
    assert.deepEqual(answers[0].messageResponse.value.extensionNumber, []);
    assert.equal(errorOf(answers[1]).errorCode, Code.NotFound);
    assert.equal(errorOf(answers[2]).errorCode, Code.NotFound);
  });

  await t.step("nested messages and declared extensions resolve", async () => {
    const answers = await askV1(clients([demoService()]).v1, [
      { case: "fileContainingSymbol", value: "demo.v1.Outer.Inner" },
      { case: "allExtensionNumbersOfType", value: "demo.v1.Outer" },
      { case: "fileContainingExtension", value: { containingType: "demo.v1.Outer", extensionNumber: 150 } },
      { case: "fileContainingExtension", value: { containingType: "demo.v1.Outer", extensionNumber: 151 } },
    ]);
    assert.deepEqual(fileNames(answers[0]), ["demo/v1/demo.proto"]);
    assert.equal(answers[1].messageResponse.case, "allExtensionNumbersResponse");
    assert.deepEqual(answers[1].messageResponse.value.extensionNumber, [150]);
    assert.deepEqual(fileNames(answers[2]), ["demo/v1/demo.proto"]);
    assert.equal(errorOf(answers[3]).errorCode, Code.NotFound);
  });

  await t.step("the same answers through v1alpha", async () => {
    async function* requests() {
      const ask = (
        messageRequest: MessageInitShape<typeof v1alpha.ServerReflectionRequestSchema>["messageRequest"],
      ) => create(v1alpha.ServerReflectionRequestSchema, { host: "localhost", messageRequest });
      yield ask({ case: "listServices", value: "" });
      yield ask({ case: "fileContainingSymbol", value: "taskmesh.tags.v1.TagService.ListTags" });
      yield ask({ case: "fileContainingSymbol", value: "taskmesh.tags.v1.Missing" });
      yield ask({ case: "fileContainingSymbol", value: "grpc.health.v1.Health" });
    }
    const answers: v1alpha.ServerReflectionResponse[] = [];
    for await (const answer of clients().v1alpha.serverReflectionInfo(requests())) answers.push(answer);
    assert.equal(answers.length, 4);
    for (const answer of answers) {
      assert.equal(answer.$typeName, "grpc.reflection.v1alpha.ServerReflectionResponse");
    }
    assert.equal(answers[0].messageResponse.case, "listServicesResponse");
    assert.deepEqual(answers[0].messageResponse.value.service.map((s) => s.name), EXPECTED_SERVICES);
    assert.equal(answers[0].validHost, "localhost");
    assert.deepEqual(fileNames(answers[1]), [
      "taskmesh/tags/v1/tags.proto",
      "google/protobuf/timestamp.proto",
    ]);
    assert.equal(answers[1].originalRequest?.messageRequest.value, "taskmesh.tags.v1.TagService.ListTags");
    assert.equal(errorOf(answers[2]).errorCode, Code.NotFound);
    assert.deepEqual(fileNames(answers[3]), ["grpc/health/v1/health.proto"]);
  });

  await t.step("a stream past its request bound ends with RESOURCE_EXHAUSTED", async () => {
    const { v1: client } = clients(SERVICES, { maxRequestsPerStream: 3 });
    const answers: v1.ServerReflectionResponse[] = [];
    const streamed = (async () => {
      for await (const answer of client.serverReflectionInfo(endlessListServices())) answers.push(answer);
    })();
    await assert.rejects(streamed, (err) => ConnectError.from(err).code === Code.ResourceExhausted);
    assert.equal(answers.length, 3);
  });
});

// A client that never stops asking: the bound, not the client, must end the stream.
async function* endlessListServices() {
  for (;;) {
    yield create(v1.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
  }
}
