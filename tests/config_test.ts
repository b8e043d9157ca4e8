/**
 * Configuration is checked before anything listens: a bad value names the variable
 * and what it expects, and the process exits non-zero.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { ConfigError } from "../server/config.ts";
import { loadConfig } from "../server/load_config.ts";
import { spawnServer } from "./_support/process.ts";

Deno.test("loadConfig reports every problem at once", () => {
  assert.throws(
    () =>
      loadConfig({
        TASKMESH_PORT: "http",
        TASKMESH_SERVICES: "auth,billing",
        DATABASE_URL: "mysql://x",
        TASKMESH_TLS_CERT_FILE: "/nonexistent.pem",
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 5);
      assert.match(e.message, /TASKMESH_PORT must be a whole number from 0 to 65535, got "http"/);
      assert.match(
        e.message,
        /TASKMESH_SERVICES must be a comma-separated list of auth, tags, campaigns, tasks/,
      );
      assert.match(e.message, /DATABASE_URL must use postgres: or postgresql:/);
      assert.match(e.message, /TASKMESH_TLS_CERT_FILE must name a readable file/);
      assert.match(e.message, /TASKMESH_TLS_CERT_FILE and TASKMESH_TLS_KEY_FILE must be set together/);
      return true;
    },
  );
});

Deno.test("defaults need no variables at all", () => {
  const config = loadConfig({});
  assert.equal(config.server.port, 8080);
  assert.deepEqual(config.server.services, ["auth", "tags", "campaigns", "tasks"]);
  assert.equal(config.server.databaseUrl, undefined);
  assert.equal(config.server.redisUrl, undefined);
});

Deno.test("a bad variable: clear message, non-zero exit, nothing listening", async () => {
  const port = await freePort();
  const proc = spawnServer({ TASKMESH_PORT: String(port), TASKMESH_MAX_TIMEOUT_MS: "soon" });
  const { code, stderr } = await proc.exited;
  assert.equal(code, 2);
  assert.match(stderr, /TASKMESH_MAX_TIMEOUT_MS must be a whole number from 1000 to 86400000, got "soon"/);
  assert.equal(proc.lines.filter((l) => l.msg === "listening").length, 0);
  await assert.rejects(connect(port), /ECONNREFUSED|refused/i);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function connect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}
