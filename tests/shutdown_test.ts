/**
 * Graceful shutdown: health flips first, in-flight unary calls finish, new calls
 * are refused, streams end cleanly — in-process and through a real SIGTERM.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { GetTagResponseSchema, TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { startServerProcess } from "./_support/process.ts";
import { startTestServer } from "./_support/server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("health Watch sees SERVING then NOT_SERVING when shutdown begins", opts, async () => {
  const server = await startTestServer();
  const health = createClient(Health, server.grpc());
  const seen: Status[] = [];
  const stream = health.watch({ service: "" });
  const it = stream[Symbol.asyncIterator]();
  seen.push((await it.next()).value.status);
  const stopping = server.close();
  seen.push((await it.next()).value.status);
  await stopping;
  assert.deepEqual(seen, [Status.SERVING, Status.NOT_SERVING]);
});

Deno.test("shutdown during a slow call: the call completes, new calls are refused", opts, async () => {
  let entered!: () => void;
  const inside = new Promise<void>((r) => entered = r);
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const server = await startTestServer({
    env: { TASKMESH_SERVICES: "auth" },
    authenticate: false,
    extraRoutes: (router) =>
      router.service(TagService, {
        async getTag() {
          entered();
          await released;
          return create(GetTagResponseSchema, { tag: { name: "slow" } });
        },
      }),
  });
  const tags = createClient(TagService, server.grpc());
  // A Connect client over HTTP/1.1 with a kept-alive connection, opened before shutdown.
  const health1 = createClient(Health, server.connect());
  assert.equal((await health1.check({})).status, Status.SERVING);
  const tags1 = createClient(TagService, server.connect());
  const slow = tags.getTag({ key: { case: "id", value: "1" } });
  await inside;
  const stopping = server.close();
  // Draining now: calls are refused, whether on an existing connection or a new one.
  const refused = (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable;
  await assert.rejects(tags1.getTag({ key: { case: "id", value: "2" } }), refused);
  const fresh = createClient(TagService, createGrpcTransport({ baseUrl: server.url }));
  await assert.rejects(fresh.getTag({ key: { case: "id", value: "3" } }), refused);
  release();
  console.log("released", performance.now());
  const res = await slow.catch((e) => {
    console.log("slow failed", performance.now());
    throw e;
  });
  assert.equal(res.tag?.name, "slow");
  await stopping;
  // And after shutdown nothing listens any more.
  const after = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
  await assert.rejects(after.check({}), refused);
});

Deno.test("a real SIGTERM drains the process and it exits 0", opts, async () => {
  const db = await createTestDatabase();
  const proc = await startServerProcess({
    DATABASE_URL: db.url,
    TASKMESH_SERVICES: "tags",
    TASKMESH_DATA_DIR: await Deno.makeTempDir(),
  });
  const health = createClient(Health, createGrpcTransport({ baseUrl: proc.url }));
  const it = health.watch({ service: "" })[Symbol.asyncIterator]();
  assert.equal((await it.next()).value.status, Status.SERVING);
  proc.child.kill("SIGTERM");
  assert.equal((await it.next()).value.status, Status.NOT_SERVING);
  const { code } = await proc.exited;
  assert.equal(code, 0);
  assert.ok(proc.lines.some((l) => l.msg === "stopped"));
  await db.drop();
});
