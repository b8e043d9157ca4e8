/**
 * A client's protocol error cannot crash the server process either.
 *
 * nghttp2 answers a connection error (a frame above SETTINGS_MAX_FRAME_SIZE, a stream id the
 * client may not use, bytes that are no frame, DATA on stream 0) with a GOAWAY of its own, and
 * sending a GOAWAY closes streams through the same `nghttp2_session_close_stream_on_goaway` that
 * aborted the process when a client's GOAWAY arrived after a burst (denoland/deno#36788; see
 * transport_goaway_test.ts). So three clients each burst Health/Check on one connection and then,
 * instead of a GOAWAY, send one bad frame: after every answer came, or right behind the burst
 * while its streams are still open. The server runs as a real child process, so an abort shows
 * as its exit, and Health must answer after every round.
 *
 * Rounds: by default a few of each shape (under a minute); TASKMESH_TEST_H2_ERROR_ROUNDS=N runs N
 * (its own variable: CI sets TASKMESH_TEST_H2_ROUNDS=50 for the GOAWAY repro only).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { frame, grpcCall, openRawH2 } from "./_support/h2_raw_client.ts";
import { answersHealth, exitOf, freePort, untilServing } from "./_support/h2_server.ts";
import { spawnServer } from "./_support/process.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CHECK = "/grpc.health.v1.Health/Check";
const CLIENTS = 3;
const ROUNDS = Number(Deno.env.get("TASKMESH_TEST_H2_ERROR_ROUNDS") ?? 0);
const DATA = 0x0;
const HEADERS = 0x1;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** The frames a client may not send; nghttp2 answers each with GOAWAY and closes. */
const BAD = {
  // 16385 bytes: one above the default SETTINGS_MAX_FRAME_SIZE, which the server keeps.
  "a frame above the max frame size": frame(DATA, 0, 1, new Uint8Array(16385)),
  // Even stream ids are the server's. The header block is a valid one: :method POST.
  "HEADERS on an even stream id": frame(HEADERS, END_HEADERS | END_STREAM, 2, Uint8Array.of(0x83)),
  "garbage bytes": Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4)),
  "DATA on stream 0": frame(DATA, 0, 0, new Uint8Array(8)),
};
type Bad = keyof typeof BAD;

/**
 * One client: `calls` concurrent calls on one connection, then the bad bytes, either after every
 * answer came or in the same write as the burst; then it waits until the server closes. The
 * server must have answered with a GOAWAY carrying an error code: the path under test ran.
 */
async function burst(port: number, calls: number, bad: Bad, when: "after" | "during"): Promise<void> {
  const conn = await openRawH2(port);
  const frames = [];
  for (let i = 0; i < calls; i++) frames.push(grpcCall(1 + 2 * i, CHECK, `127.0.0.1:${port}`));
  if (when === "after") {
    conn.socket.write(Buffer.concat(frames));
    await conn.untilEnded(calls);
    conn.socket.write(BAD[bad]);
  } else {
    conn.socket.write(Buffer.concat([...frames, BAD[bad]]));
  }
  await conn.closed;
  assert.ok(conn.goawayCode, `the server answered ${bad} with a GOAWAY and an error code`);
}

Deno.test(
  "three clients bursting Health/Check and then sending a bad frame cannot crash the server",
  opts,
  async () => {
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-protocol-error-" });
    const port = freePort();
    const proc = spawnServer({
      DATABASE_URL: db.url,
      TASKMESH_PORT: String(port),
      TASKMESH_SERVICES: "tags",
      TASKMESH_LOG_LEVEL: "warn",
      TASKMESH_DATA_DIR: dataDir,
    });
    let exited: { code: number; stderr: string } | undefined;
    const finished = proc.exited.then((e) => exited = e);
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    try {
      await untilServing(health, () => exited);
      const shapes = [
        { calls: 900, when: "after", rounds: ROUNDS || 1 },
        { calls: 900, when: "during", rounds: ROUNDS || 1 },
        { calls: 300, when: "after", rounds: ROUNDS || 2 },
        { calls: 300, when: "during", rounds: ROUNDS || 2 },
      ] as const;
      for (const bad of Object.keys(BAD) as Bad[]) {
        for (const { calls, when, rounds } of shapes) {
          for (let round = 1; round <= rounds; round++) {
            const what = `${CLIENTS} × ${calls}, ${bad} ${when} the burst, round ${round}`;
            await Promise.all(Array.from({ length: CLIENTS }, () => burst(port, calls, bad, when))).catch(
              async (error) => {
                throw new Error(`${what}: ${error.message}; ${await exitOf(proc.exited)}`);
              },
            );
            await answersHealth(what, health, proc, () => exited);
          }
        }
      }
      assert.equal(exited, undefined, "the server is still running");
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
