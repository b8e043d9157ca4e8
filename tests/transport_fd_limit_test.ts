/**
 * The server recovers by itself after running out of file descriptors (issue 10, item 4).
 *
 * Measured before the fix: 300 idle connections against `ulimit -n 256` left the process alive
 * but deaf for good after they closed, with nothing in the log. Here a real server process runs
 * under that limit; the test fills its file table, waits for the log line that says so, closes
 * every connection, and expects the server to answer again and /metrics to count the episode.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { createTestDatabase } from "../server/db/testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = new URL("../server/main.ts", import.meta.url).pathname;

interface LoggedProcess {
  child: Deno.ChildProcess;
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
}

/** server/main.ts under `ulimit -n`, its JSON log lines readable as they come. */
function spawnLimited(limit: number, env: Record<string, string>): LoggedProcess {
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n ${limit} && exec "${Deno.execPath()}" run -A "${MAIN}"`],
    env: { PATH: Deno.env.get("PATH") ?? "", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const raw = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          lines.push(JSON.parse(raw));
        } catch {
          continue;
        }
        for (const wake of waiters) wake();
      }
    }
  })();
  return {
    child,
    waitForLine(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-3))}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const found = lines.find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** One HTTP/1.1 GET over a fresh connection; the status line, or why there was none within `ms`. */
function get(port: number, path: string, ms: number): Promise<{ status: string; body: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let got = "";
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${ms} ms`)), ms);
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    socket.on("data", (chunk) => got += chunk);
    socket.on("error", (error) => got ||= `error: ${error.message}`);
    socket.on("close", () => {
      clearTimeout(timer);
      const [head, body = ""] = got.split("\r\n\r\n");
      resolve({ status: head.split("\r\n")[0], body });
    });
  });
}

Deno.test(
  "after the open-file limit is hit and the connections close, the server accepts again, logs it and counts it",
  opts,
  async () => {
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-fd-" });
    const proc = spawnLimited(256, {
      DATABASE_URL: db.url,
      TASKMESH_HOST: "127.0.0.1",
      TASKMESH_PORT: "0",
      TASKMESH_SERVICES: "tags",
      TASKMESH_DATA_DIR: dataDir,
      // Long enough that the idle connections below are not reaped while the test looks.
      TASKMESH_FIRST_BYTE_TIMEOUT_MS: "60000",
    });
    const idle: net.Socket[] = [];
    try {
      const listening = await proc.waitForLine((l) => l.msg === "listening", 60_000);
      const port = Number(new URL(String(listening.url)).port);
      assert.match((await get(port, "/healthz", 5000)).status, / 200 /);

      for (let i = 0; i < 300; i++) {
        const socket = net.connect({ port, host: "127.0.0.1" });
        socket.on("error", () => {});
        idle.push(socket);
      }
      await proc.waitForLine(
        (l) => l.msg === "open-file limit reached: new connections wait until descriptors are freed",
        15_000,
      );
      for (const socket of idle) socket.destroy();

      // Served again: within a few watchdog ticks, not never.
      let answer = await get(port, "/healthz", 5000);
      for (let tries = 1; !/ 200 /.test(answer.status) && tries < 5; tries++) {
        answer = await get(
          port,
          "/healthz",
          5000,
        );
      }
      assert.match(answer.status, / 200 /, "the server answers again after the connections closed");
      await proc.waitForLine((l) => l.msg === "descriptors free again: accepting connections", 10_000);
      const metrics = await get(port, "/metrics", 5000);
      assert.match(metrics.body, /taskmesh_listener_fd_exhausted_total [1-9]/);
    } finally {
      for (const socket of idle) socket.destroy();
      proc.child.kill("SIGKILL");
      await proc.child.status;
      await db.drop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
);
