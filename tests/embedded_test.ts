/**
 * `deno task start` on a machine with no Postgres and no Redis: the server starts on
 * embedded defaults, says so loudly, answers, and stops cleanly.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { connectPostgres } from "../server/db/postgres.ts";
import { startServerProcess } from "./_support/process.ts";

Deno.test("with neither DATABASE_URL nor REDIS_URL the server starts and answers", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-embedded-" });
  // As a default umask leaves a folder: readable by every local user.
  await Deno.chmod(dataDir, 0o755);
  const proc = await startServerProcess({ TASKMESH_DATA_DIR: dataDir });
  let password = "";
  try {
    const health = createClient(Health, createConnectTransport({ baseUrl: proc.url, httpVersion: "1.1" }));
    assert.equal((await health.check({})).status, Status.SERVING);
    // The embedded database keeps its files in the data dir, which only this user may read.
    assert.ok((await Array.fromAsync(Deno.readDir(`${dataDir}/pg`))).length > 0);
    assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dataDir}/pg`)).mode! & 0o777, 0o700);
    // Its port asks for the password the holder file carries; without it, 28P01.
    const url = new URL(JSON.parse(await Deno.readTextFile(`${dataDir}/pg.server.json`)).url);
    password = url.password;
    assert.ok(password.length >= 32, url.toString());
    url.password = "";
    const intruder = connectPostgres(url.toString(), { max: 1 });
    try {
      await assert.rejects(intruder`select email from users`, (error: { code?: string }) => {
        assert.equal(error.code, "28P01", String(error));
        return true;
      });
    } finally {
      await intruder.end();
    }
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
  // The database's password is never printed, in the banner or the logs.
  const logged = JSON.stringify(proc.lines);
  assert.ok(!stderr.includes(password) && !logged.includes(password), "the database's password was printed");
  assert.match(logged, /data folder was readable by other users: narrowed to 0700/);
  await Deno.remove(dataDir, { recursive: true });
});

const ROOT = new URL("../", import.meta.url).pathname;
const START = new URL("../server/start.ts", import.meta.url).pathname;

/** Runs a maintenance command the way `deno task <name>` does, on the given data dir. */
async function runCommand(
  script: string,
  dataDir: string,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: ROOT,
    env: { TASKMESH_DATA_DIR: dataDir },
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

Deno.test("the maintenance commands write into the database of the running embedded server", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-embedded-cli-" });
  const holderFile = `${dataDir}/pg.server.json`;
  const proc = await startServerProcess({ TASKMESH_DATA_DIR: dataDir }, START);
  // HTTP/2: under Deno the HTTP/1.1 server closes a connection after each response although it
  // says keep-alive, and a pooled socket reused in that moment fails with "socket hang up".
  const transport = createConnectTransport({ baseUrl: proc.url, httpVersion: "2" });
  const auth = createClient(AuthService, transport);
  const sharing = new RegExp(
    `using the embedded database of the running taskmesh \\(pid ${proc.child.pid}\\)`,
  );
  try {
    await t.step("the server names itself in a 0600 file beside the database", async () => {
      const holder = JSON.parse(await Deno.readTextFile(holderFile));
      assert.equal(holder.pid, proc.child.pid);
      assert.match(holder.url, /^postgres:\/\/postgres:[\w-]{32,}@127\.0\.0\.1:\d+\/postgres$/);
      assert.equal((await Deno.stat(holderFile)).mode! & 0o777, 0o600);
    });

    await t.step("keys:rotate: the new key is in the running server's JWKS", async () => {
      const { code, stdout, stderr } = await runCommand("server/auth/keys_rotate.ts", dataDir);
      assert.equal(code, 0, stderr);
      assert.match(stderr, sharing);
      // The kid is the last line; a warning about an unencrypted key may come before it.
      const kid = stdout.trim().split("\n").at(-1)!;
      const jwks = await (await fetch(`${proc.url}/.well-known/jwks.json`)).json() as {
        keys: { kid: string }[];
      };
      assert.ok(jwks.keys.some((k) => k.kid === kid), `${kid} not in ${JSON.stringify(jwks)}`);
    });

    const email = "ops@example.com";
    const password = "a long enough operator passphrase";
    await t.step("admin:create: the new admin signs in to the running server", async () => {
      const { code, stderr } = await runCommand("server/auth/admin_create.ts", dataDir, [
        "--email",
        email,
        "--password",
        password,
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stderr, sharing);
      const login = await auth.login({ email, password });
      assert.ok(login.tokens?.accessToken);
    });

    await t.step("seed: the running server lists the catalogue's tags", async () => {
      const { code, stdout, stderr } = await runCommand("server/tags/seed.ts", dataDir);
      assert.equal(code, 0, stderr);
      assert.match(stderr, sharing);
      assert.ok(JSON.parse(stdout.trim()).created > 0, stdout);
      const token = (await auth.login({ email, password })).tokens!.accessToken;
      const tags = createClient(TagService, transport);
      const { tags: found } = await tags.listTags({ namePrefix: "Python" }, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.ok(found.some((tag) => tag.name === "Python"), JSON.stringify(found.map((x) => x.name)));
    });

    await t.step("migrate: goes through the running server", async () => {
      const { code, stdout, stderr } = await runCommand("server/db/migrate_cli.ts", dataDir);
      assert.equal(code, 0, stderr);
      assert.match(stdout, sharing);
      assert.match(stdout, /is up to date: nothing to apply/);
    });

    await t.step("a second server on the same folder refuses, in one line", async () => {
      const second = await runCommand("server/main.ts", dataDir);
      assert.equal(second.code, 1, second.stderr);
      assert.match(
        second.stderr.trim(),
        new RegExp(
          `^taskmesh: the embedded database in .*/pg is in use by pid ${proc.child.pid} \\(taskmesh server\\)`,
        ),
      );
      // And the first is unharmed.
      const health = createClient(Health, transport);
      assert.equal((await health.check({})).status, Status.SERVING);
    });
  } finally {
    proc.child.kill("SIGTERM");
  }
  const { code, stderr } = await proc.exited;
  assert.equal(code, 0, stderr);
  await assert.rejects(Deno.stat(holderFile), Deno.errors.NotFound);

  // With no server running, a command opens the folder itself and leaves no holder behind.
  const rotated = await runCommand("server/auth/keys_rotate.ts", dataDir);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.doesNotMatch(rotated.stderr, /running taskmesh/);
  await assert.rejects(Deno.stat(holderFile), Deno.errors.NotFound);
  await Deno.remove(dataDir, { recursive: true });
});
