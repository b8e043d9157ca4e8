/**
 * A DATABASE_URL or REDIS_URL that cannot be used stops the start with one clear line
 * naming the variable, where it points and what to do, never a driver's stack trace.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../server/db/testing.ts";
import { spawnServer } from "./_support/process.ts";

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function startFails(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const { exited } = spawnServer({ TASKMESH_DATA_DIR: await Deno.makeTempDir(), ...env });
  const { code, stderr } = await exited;
  return { code, lines: stderr.trim().split("\n") };
}

Deno.test("a REDIS_URL that cannot be used is one clear line at start", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const db = await createTestDatabase();
  try {
    const port = closedPort();
    const cases: Array<[string, RegExp]> = [
      [
        `redis://127.0.0.1:${port}`,
        new RegExp(
          `^taskmesh: REDIS_URL \\(redis://127\\.0\\.0\\.1:${port}\\) cannot be used: connect ECONNREFUSED .*: ` +
            "check the host, port and password and that Redis runs, or unset REDIS_URL for the in-memory broker$",
        ),
      ],
      [
        "redis://nonexistent.invalid:6379",
        /^taskmesh: REDIS_URL \(redis:\/\/nonexistent\.invalid:6379\) cannot be used: getaddrinfo ENOTFOUND/,
      ],
      // A port where something else (Postgres) listens.
      [`redis://127.0.0.1:${new URL(db.url).port || 5432}`, /^taskmesh: REDIS_URL \(.*\) cannot be used: /],
    ];
    for (const [url, expected] of cases) {
      const { code, lines } = await startFails({ DATABASE_URL: db.url, REDIS_URL: url });
      assert.equal(code, 1, lines.join("\n"));
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], expected);
    }
    // A wrong scheme is a configuration error, said before anything is tried.
    const scheme = await startFails({ REDIS_URL: "http://127.0.0.1:6379" });
    assert.equal(scheme.code, 2);
    assert.match(scheme.lines.join("\n"), /REDIS_URL must use redis: or rediss:, got "http:"/);
  } finally {
    await db.drop();
  }
});

Deno.test("a DATABASE_URL that cannot be used is one clear line at start", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const port = closedPort();
  const { code, lines } = await startFails({
    DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/postgres`,
  });
  assert.equal(code, 1, lines.join("\n"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0],
    new RegExp(
      `^taskmesh: DATABASE_URL \\(postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${port}/postgres\\) cannot be used: ` +
        "connect ECONNREFUSED .*: check the host, port, credentials and that Postgres runs, or unset DATABASE_URL " +
        "for the embedded database$",
    ),
  );
});
