/**
 * An anonymous client cannot crash the server process (issue 10, item 1).
 *
 * The repro of the adversarial pass: three clients each open one HTTP/2 connection, make
 * hundreds of concurrent grpc.health.v1.Health/Check calls, then close, gracefully (GOAWAY,
 * then FIN) or not (GOAWAY, then a reset). Under Deno 2.9 the GOAWAY reached nghttp2, which
 * aborted the process on `find_stream_on_goaway_func: stream->closed_next == NULL` (measured:
 * the first round of 3 × 900 aborted it in each ending). The server runs as a real child
 * process, so an abort shows as its exit, and Health must answer after every round.
 *
 * Rounds: each round of 3 × 900 calls costs the server about 3 s of CPU on this machine, so by
 * default the test runs a few rounds of each shape (about 40 s); TASKMESH_TEST_H2_ROUNDS=50
 * runs the full 50 rounds of each.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { goaway, grpcCall, openRawH2 } from "./_support/h2_raw_client.ts";
import { answersHealth, exitOf, freePort, untilServing } from "./_support/h2_server.ts";
import { spawnServer } from "./_support/process.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CHECK = "/grpc.health.v1.Health/Check";
const CLIENTS = 3;
const FULL_ROUNDS = Number(Deno.env.get("TASKMESH_TEST_H2_ROUNDS") ?? 0);

/** One client: `calls` concurrent calls on one connection, every answer read, then the ending. */
async function burst(port: number, calls: number, ending: "close" | "destroy"): Promise<void> {
  const conn = await openRawH2(port);
  const frames = [];
  for (let i = 0; i < calls; i++) frames.push(grpcCall(1 + 2 * i, CHECK, `127.0.0.1:${port}`));
  conn.socket.write(Buffer.concat(frames));
  await conn.untilEnded(calls);
  assert.equal(conn.reset, 0, "no call was reset");
  conn.socket.write(goaway(0));
  if (ending === "close") conn.socket.end();
  else conn.socket.destroy();
  await conn.closed;
}

Deno.test(
  "three clients bursting Health/Check and closing, gracefully or not, cannot crash the server",
  opts,
  async () => {
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-goaway-" });
    const port = freePort();
    // Warn level keeps a log line per call off the measured path; so no "listening" line to wait for.
    const proc = spawnServer({
      DATABASE_URL: db.url,
      TASKMESH_PORT: String(port),
      TASKMESH_SERVICES: "tags",
      TASKMESH_LOG_LEVEL: "warn",
      TASKMESH_DATA_DIR: dataDir,
    });
    let exited: { code: number; stderr: string } | undefined;
    const finished = proc.exited.then((e) => exited = e);
    const url = `http://127.0.0.1:${port}`;
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    try {
      await untilServing(health, () => exited);
      const shapes = [
        { calls: 900, ending: "close", rounds: FULL_ROUNDS || 3 },
        { calls: 900, ending: "destroy", rounds: FULL_ROUNDS || 3 },
        { calls: 300, ending: "close", rounds: FULL_ROUNDS || 6 },
        { calls: 300, ending: "destroy", rounds: FULL_ROUNDS || 6 },
      ] as const;
      for (const { calls, ending, rounds } of shapes) {
        for (let round = 1; round <= rounds; round++) {
          const what = `${CLIENTS} × ${calls}, ${ending}, round ${round}`;
          await Promise.all(Array.from({ length: CLIENTS }, () => burst(port, calls, ending))).catch(
            async (error) => {
              throw new Error(`${what}: ${error.message}; ${await exitOf(proc.exited)}`);
            },
          );
          await answersHealth(what, health, proc, () => exited);
        }
      }
      assert.equal(exited, undefined, "the server is still running");
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /taskmesh_h2_client_goaway_dropped_total [1-9]\d*/);
    } finally {
      try {
        proc.child.kill("SIGTERM");
      } catch {
        // It has exited already.
      }
      await finished;
      await db.drop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
);
