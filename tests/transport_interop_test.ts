/**
 * What outside clients found (issue 10, interop details): deadlines above the maximum are
 * capped, server streams send their headers at once, an unknown method gets each protocol's
 * Unimplemented, health is SERVING only for services that serve, and gRPC-Web is binary.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function transports(server: TestServer): Record<string, Transport> {
  return { grpc: server.grpc(), grpcWeb: server.grpcWeb(), connect: server.connect() };
}

Deno.test("a deadline above TASKMESH_MAX_TIMEOUT_MS is capped to it, not refused", opts, async () => {
  const server = await startTestServer({ env: { TASKMESH_MAX_TIMEOUT_MS: "1000" } });
  try {
    for (const [name, transport] of Object.entries(transports(server))) {
      const health = createClient(Health, transport);
      assert.equal((await health.check({}, { timeoutMs: 3_600_000 })).status, Status.SERVING, name);
      // A watch asked to live an hour gets its first status, then ends at the server's maximum.
      const started = performance.now();
      const seen: Status[] = [];
      await assert.rejects(
        async () => {
          for await (const res of health.watch({}, { timeoutMs: 3_600_000 })) seen.push(res.status);
        },
        (e: unknown) => e instanceof ConnectError && e.code === Code.DeadlineExceeded,
        `${name}: the stream ends with DeadlineExceeded`,
      );
      assert.deepEqual(seen, [Status.SERVING], name);
      assert.ok(performance.now() - started < 10_000, `${name}: ended at the cap, not after an hour`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("a server stream sends its response headers before its first message", opts, async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const server = await startTestServer({
    env: { TASKMESH_SERVICES: "auth" },
    authenticate: false,
    extraRoutes: (router) =>
      router.service(TaskService, {
        async *watchTasks() {
          await released;
          yield {};
        },
      }),
  });
  try {
    for (const [name, transport] of Object.entries(transports(server))) {
      const tasks = createClient(TaskService, transport);
      let headers!: (h: Headers) => void;
      const gotHeaders = new Promise<Headers>((resolve) => headers = resolve);
      const abort = new AbortController();
      const stream = tasks.watchTasks({}, { onHeader: headers, signal: abort.signal });
      const first = stream[Symbol.asyncIterator]().next();
      first.catch(() => {});
      let timer!: ReturnType<typeof setTimeout>;
      const header = await Promise.race([
        gotHeaders,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name}: no headers before the first message`)), 5000);
        }),
      ]);
      clearTimeout(timer);
      assert.ok(header.get("x-request-id"), `${name}: the headers carry the request id`);
      abort.abort();
    }
  } finally {
    release();
    await server.close();
  }
});

/** One raw gRPC request over HTTP/2; the response headers (trailers-only carries the status there). */
function grpcHeaders(url: string, path: string): Promise<http2.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("response", (headers) => {
      req.resume();
      req.on("end", () => session.close());
      resolve(headers);
    });
    req.on("error", reject);
    req.end(new Uint8Array(5));
  });
}

Deno.test("an unknown method gets each protocol's Unimplemented, not an HTTP 404 page", opts, async () => {
  const server = await startTestServer({ env: { TASKMESH_SERVICES: "tags" } });
  try {
    const path = "/nope.v1.Nope/Call";
    const grpc = await grpcHeaders(server.url, path);
    assert.equal(grpc[":status"], 200);
    assert.equal(grpc["grpc-status"], "12");
    assert.match(decodeURIComponent(String(grpc["grpc-message"])), /unknown method \/nope.v1.Nope\/Call/);

    const grpcWeb = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(5),
    });
    await grpcWeb.body?.cancel();
    assert.equal(grpcWeb.status, 200);
    assert.equal(grpcWeb.headers.get("grpc-status"), "12");

    const unary = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(unary.status, 404);
    assert.equal((await unary.json()).code, "unimplemented");

    const streaming = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/connect+json" },
      body: new Uint8Array(5),
    });
    assert.equal(streaming.status, 200);
    const body = new Uint8Array(await streaming.arrayBuffer());
    assert.equal(body[0], 0b10, "an end-stream message");
    assert.equal(JSON.parse(new TextDecoder().decode(body.subarray(5))).error.code, "unimplemented");

    // And the real clients read them as Unimplemented.
    const { CampaignService } = await import("../gen/taskmesh/campaigns/v1/campaigns_pb.ts");
    for (const [name, transport] of Object.entries(transports(server))) {
      await assert.rejects(
        createClient(CampaignService, transport).getCampaign({ id: "x" }),
        (e: unknown) => e instanceof ConnectError && e.code === Code.Unimplemented,
        name,
      );
    }
    // A plain GET of an unknown path is still the HTTP 404 page.
    const page = await fetch(`${server.url}/nowhere`);
    assert.equal(page.status, 404);
    assert.equal(await page.text(), "not found\n");
  } finally {
    await server.close();
  }
});

Deno.test(
  "health says NOT_SERVING for a service still to be built, and the server stays SERVING",
  opts,
  async () => {
    // Campaigns without the task engine in the process cannot send: served as still to be built.
    const server = await startTestServer({ env: { TASKMESH_SERVICES: "auth,tags,campaigns" } });
    try {
      const health = createClient(Health, server.grpc());
      assert.equal(
        (await health.check({ service: "taskmesh.campaigns.v1.CampaignService" })).status,
        Status.NOT_SERVING,
      );
      assert.equal((await health.check({ service: "taskmesh.tags.v1.TagService" })).status, Status.SERVING);
      assert.equal((await health.check({})).status, Status.SERVING);
      const healthz = await fetch(`${server.url}/healthz`);
      assert.equal(healthz.status, 200);
      await healthz.body?.cancel();
    } finally {
      await server.close();
    }
  },
);

Deno.test("gRPC-Web is served in binary mode; the text mode gets 415", opts, async () => {
  const server = await startTestServer();
  try {
    const text = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web-text" },
      body: "AAAAAAA=",
    });
    await text.body?.cancel();
    assert.equal(text.status, 415);
    const binary = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(5),
    });
    await binary.body?.cancel();
    assert.equal(binary.status, 200);
  } finally {
    await server.close();
  }
});
