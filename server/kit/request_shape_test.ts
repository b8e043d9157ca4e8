import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ConnectRequestSchema } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import {
  EnqueueBatchRequestSchema,
  GetTaskRequestSchema,
  ListTasksRequestSchema,
  TaskService,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { checkMessage, createRequestShapeInterceptor, MAX_ERROR_MESSAGE_CHARS } from "./request_shape.ts";

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.InvalidArgument);
    return error.rawMessage;
  }
  assert.fail("accepted");
}

Deno.test("a refusal names the field's path: nested, listed, mapped and in a oneof", () => {
  const batch = (task: object) => create(EnqueueBatchRequestSchema, { tasks: [{ type: "ok" }, task] });
  const check = (m: ReturnType<typeof batch>) => () => checkMessage(EnqueueBatchRequestSchema, m);
  assert.match(refusal(check(batch({ type: "a\u0000" }))), /^tasks\[1\]\.type contains a control character/);
  assert.match(refusal(check(batch({ labels: { "k\u001b": "v" } }))), /^tasks\[1\]\.labels key /);
  assert.match(refusal(check(batch({ labels: { k: "\u0007" } }))), /^tasks\[1\]\.labels\["k"\] /);
  assert.match(refusal(check(batch({ dependsOn: ["x", "\u0000"] }))), /^tasks\[1\]\.depends_on\[1\] /);
  assert.match(
    refusal(check(batch({ dependencyCondition: 99 as never }))),
    /^tasks\[1\]\.dependency_condition is 99/,
  );
  assert.match(
    refusal(check(batch({ timeout: create(DurationSchema, { seconds: 1n, nanos: -1 }) }))),
    /^tasks\[1\]\.timeout has seconds and nanos of opposite signs/,
  );
  assert.match(
    refusal(check(batch({ runTime: create(TimestampSchema, { seconds: 2n ** 62n }) }))),
    /^tasks\[1\]\.run_time is out of range/,
  );
  assert.match(
    refusal(check(batch({ backoff: { multiplier: NaN } }))),
    /^tasks\[1\]\.backoff\.multiplier is NaN/,
  );
  const hello = create(ConnectRequestSchema, {
    message: { case: "hello", value: { workerId: "w", queues: ["q"], taskTypes: ["ok", "\u0000"] } },
  });
  assert.match(refusal(() => checkMessage(ConnectRequestSchema, hello)), /^hello\.task_types\[1\] /);
  assert.match(
    refusal(() =>
      checkMessage(ListTasksRequestSchema, create(ListTasksRequestSchema, { state: 99 as never }))
    ),
    /^state is 99, not a known TaskState/,
  );
});

Deno.test("line breaks and tabs pass the shape (a field that is one line says so itself)", () => {
  checkMessage(
    EnqueueBatchRequestSchema,
    create(EnqueueBatchRequestSchema, { tasks: [{ type: "a\tb\nc\r" }] }),
  );
});

Deno.test("the interceptor refuses before the handler runs, and cuts an error message that echoes a huge field", async () => {
  let calls = 0;
  const transport = createRouterTransport((router) =>
    router.service(TaskService, {
      getTask(req) {
        calls++;
        throw new ConnectError(`no task ${req.id}`, Code.NotFound);
      },
    }), { router: { interceptors: [createRequestShapeInterceptor()] } });
  const client = createClient(TaskService, transport);
  await assert.rejects(
    client.getTask({ id: "\u0000" }),
    (e: ConnectError) => e.code === Code.InvalidArgument,
  );
  assert.equal(calls, 0);
  await assert.rejects(
    client.getTask(create(GetTaskRequestSchema, { id: "x".repeat(100_000) })),
    (e: ConnectError) => {
      assert.equal(e.code, Code.NotFound);
      assert.ok(e.rawMessage.length <= MAX_ERROR_MESSAGE_CHARS + 1, `${e.rawMessage.length}`);
      return true;
    },
  );
});

Deno.test("a worker's own free text is cleaned, not refused", () => {
  const result = create(ConnectRequestSchema, {
    message: {
      case: "result",
      value: { taskId: "t", outcome: { case: "error", value: { message: "a\u0000b\nc", code: "\u001b" } } },
    },
  });
  checkMessage(ConnectRequestSchema, result);
  assert.equal(result.message.case, "result");
  const error = result.message.value.outcome.value as { message: string; code: string };
  assert.deepEqual([error.message, error.code], ["a\uFFFDb\nc", "\uFFFD"]);
  // Its ids are not free text: a NUL there is refused.
  result.message.value.taskId = "t\u0000";
  assert.match(refusal(() => checkMessage(ConnectRequestSchema, result)), /^result\.task_id /);
});
