/**
 * Traces from the RPC to the handler: a server process and a worker process, both with
 * Deno's OpenTelemetry on, export OTLP/HTTP JSON to a receiver on loopback (a small HTTP
 * server here that decodes what they send). An Enqueue carrying a W3C `traceparent`
 * leads to an RPC span that is its child, a task that keeps the RPC span's context, and a
 * handler span on the worker that is the RPC span's child, all in the caller's trace. The
 * server's log line for the call, and the worker's for the task's end, carry the trace
 * and span ids. With tracing off, the
 * caller's `traceparent` still reaches the worker in Assign, as it came.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { systemClock } from "../server/clock.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { startServerProcess } from "./_support/process.ts";
import { bearer, credentials, credentialsOn, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";
import { eventually } from "./_support/until.ts";

const WORKER = new URL("../worker/main.ts", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
}

/** An OTLP/HTTP receiver for JSON exports: keeps every span, answers the rest with an empty success. */
function startOtlpReceiver() {
  const spans: ExportedSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    if (new URL(req.url).pathname === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        const attrs: { key: string; value: { stringValue?: string } }[] = rs.resource?.attributes ?? [];
        const service = attrs.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) spans.push({ ...s, parentSpanId: s.parentSpanId ?? "", service });
        }
      }
    }
    return Response.json({});
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, spans, stop: () => server.shutdown() };
}

/** The JSON lines a process writes, parsed as they come. */
function collectLines(stream: ReadableStream<Uint8Array>): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  (async () => {
    let buffered = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const part of parts) {
        try {
          lines.push(JSON.parse(part));
        } catch { /* not a log line */ }
      }
    }
  })();
  return lines;
}

const hex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("an Enqueue's traceparent reaches the worker's handler span, through the task", opts, async () => {
  const receiver = startOtlpReceiver();
  const db = await createTestDatabase();
  const otel = (service: string) => ({
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    // The console goes to the test's pipes, not to the receiver.
    OTEL_DENO_CONSOLE: "ignore",
    // Spans are exported every 200 ms rather than every 5 s (the batch processor's standard variable).
    OTEL_BSP_SCHEDULE_DELAY: "200",
  });
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    TASKMESH_DATA_DIR: await Deno.makeTempDir({ prefix: "taskmesh-trace-" }),
    ...otel("taskmesh-server"),
  });
  let worker: Deno.ChildProcess | undefined;
  try {
    const transport = createGrpcTransport({ baseUrl: server.url });
    const { admin, workerKey } = await credentialsOn({ sql: db.sql, clock: systemClock }, transport);
    const traceId = hex(16);
    const callerSpan = hex(8);
    const tasks = createClient(TaskService, transport);
    const { task } = await tasks.enqueue(
      { task: { queue: "traced", type: "noop", payload: new TextEncoder().encode("{}") } },
      { headers: { ...bearer(admin).headers, traceparent: `00-${traceId}-${callerSpan}-01` } },
    );
    worker = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", WORKER, `--url=${server.url}`, "--queues=traced", "--worker-id=traced-worker"],
      env: { TASKMESH_API_KEY: workerKey, ...otel("taskmesh-worker") },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const workerLines = collectLines(worker.stdout);
    await eventually("the task succeeds", async () => {
      const t = (await tasks.getTask({ id: task!.id }, bearer(admin))).task!;
      return t.state === TaskState.SUCCEEDED ? t : undefined;
    }, { timeoutMs: 30_000 });

    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const rpc = await eventually(
      "the server exports the Enqueue span",
      () => inTrace().find((s) => s.name === "taskmesh.tasks.v1.TaskService/Enqueue"),
      { timeoutMs: 30_000 },
    );
    const handler = await eventually(
      "the worker exports the handler span",
      () => inTrace().find((s) => s.name === "task noop"),
      { timeoutMs: 30_000 },
    );
    assert.equal(rpc.parentSpanId, callerSpan, "the RPC span is the caller's child");
    assert.equal(rpc.service, "taskmesh-server");
    assert.equal(handler.parentSpanId, rpc.spanId, "the handler span is the RPC span's child");
    assert.equal(handler.service, "taskmesh-worker");

    const line = server.lines.find((l) =>
      l.msg === "rpc" && l.method === "taskmesh.tasks.v1.TaskService/Enqueue"
    );
    assert.ok(line, "the server logged the call");
    assert.equal(line.trace_id, traceId);
    assert.equal(line.span_id, rpc.spanId);
    const done = await eventually(
      "the worker logs the task's end",
      () => workerLines.find((l) => l.msg === "task succeeded" && l.task_id === task!.id),
    );
    assert.equal(done.trace_id, traceId);
    assert.equal(done.span_id, handler.spanId);
  } finally {
    worker?.kill("SIGTERM");
    await worker?.status;
    server.child.kill("SIGTERM");
    await server.exited;
    await receiver.stop();
    await db.drop();
  }
});

Deno.test(
  "with tracing off, the caller's traceparent reaches the worker in Assign as it came",
  opts,
  async () => {
    const server = await startTestServer();
    try {
      const { admin, workerKey } = await credentials(server);
      const traceparent = `00-${hex(16)}-${hex(8)}-01`;
      const tasks = createClient(TaskService, server.connect());
      const enqueue = (queue: string, header?: string) =>
        tasks.enqueue(
          { task: { queue, type: "noop" } },
          { headers: { ...bearer(admin).headers, ...(header ? { traceparent: header } : {}) } },
        );
      await enqueue("plain", traceparent);
      // A malformed header is dropped, not stored.
      await enqueue("odd", "00-not-a-trace-01");
      const worker = openRawWorker(server.grpc(), workerKey);
      try {
        worker.send({ case: "hello", value: { workerId: "w", queues: ["plain", "odd"], concurrency: 2 } });
        await worker.nextOf("welcome");
        const assigned = [await worker.nextOf("assign"), await worker.nextOf("assign")];
        const byQueue = new Map(assigned.map((a) => [a.task!.spec!.queue, a.traceparent]));
        assert.equal(byQueue.get("plain"), traceparent);
        assert.equal(byQueue.get("odd"), "");
      } finally {
        worker.kill();
      }
    } finally {
      await server.close();
    }
  },
);
