/**
 * `deno task start` on a machine with no Postgres and no Redis: the server starts on
 * embedded defaults, says so loudly, answers, and stops cleanly.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { startServerProcess } from "./_support/process.ts";

Deno.test("with neither DATABASE_URL nor REDIS_URL the server starts and answers", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-embedded-" });
  const proc = await startServerProcess({ TASKMESH_DATA_DIR: dataDir });
  try {
    const health = createClient(Health, createConnectTransport({ baseUrl: proc.url, httpVersion: "1.1" }));
    assert.equal((await health.check({})).status, Status.SERVING);
    // The embedded database keeps its files in the data dir.
    assert.ok((await Array.fromAsync(Deno.readDir(`${dataDir}/pg`))).length > 0);
  } finally {
    proc.child.kill("SIGTERM");
  }
  const { code, stderr } = await proc.exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /EMBEDDED MODE/);
  assert.match(stderr, /postgres\s+EMBEDDED \(PGlite\)/);
  assert.match(stderr, /redis\s+EMBEDDED/);
  // An empty database gets a first admin whose one-time password is printed once.
  assert.match(stderr, /FIRST ADMIN created: admin@taskmesh\.localhost/);
  assert.match(stderr, /one-time password:\s+\S{12,}/);
  await Deno.remove(dataDir, { recursive: true });
});
