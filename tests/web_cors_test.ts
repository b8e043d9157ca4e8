/**
 * CORS configuration and the caching headers of Connect GET answers: an entry of
 * TASKMESH_CORS_ORIGINS that is not an origin stops the server at start (exit 2) instead
 * of silently refusing every browser call.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../server/config.ts";
import { loadConfig } from "../server/load_config.ts";
import { startTestServer } from "./_support/server.ts";

function problemsOf(origins: string): string[] {
  try {
    loadConfig({ TASKMESH_CORS_ORIGINS: origins });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

Deno.test("TASKMESH_CORS_ORIGINS: origins and * are accepted, anything else is named", () => {
  assert.deepEqual(problemsOf("*"), []);
  assert.deepEqual(problemsOf("http://127.0.0.1:18086, https://app.example.com"), []);
  assert.deepEqual(
    loadConfig({ TASKMESH_CORS_ORIGINS: "https://a.example.com,http://b.test:81" }).server.corsOrigins,
    [
      "https://a.example.com",
      "http://b.test:81",
    ],
  );
  for (
    const bad of [
      "http://127.0.0.1:18086/",
      "https://app.example.com/path",
      "app.example.com",
      "ftp://x.test",
    ]
  ) {
    const problems = problemsOf(`https://ok.example.com,${bad}`);
    assert.equal(problems.length, 1, bad);
    assert.match(problems[0], /^TASKMESH_CORS_ORIGINS entries must be origins/);
    assert.ok(problems[0].includes(`"${bad}"`), problems[0]);
  }
});

Deno.test("TASKMESH_CORS_ORIGINS with a trailing slash: the server exits 2 before listening", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../server/main.ts", import.meta.url).pathname],
    env: { TASKMESH_CORS_ORIGINS: "http://127.0.0.1:18086/", TASKMESH_PORT: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /TASKMESH_CORS_ORIGINS entries must be origins/);
});

Deno.test("Connect GET answers carry Cache-Control and Vary: Origin; POST answers are untouched", async () => {
  const server = await startTestServer({ env: { TASKMESH_CORS_ORIGINS: "https://app.example.com" } });
  try {
    // GetJwks is public and NO_SIDE_EFFECTS, so Connect clients may call it with GET.
    const url = `${server.url}/taskmesh.auth.v1.AuthService/GetJwks?connect=v1&encoding=json&message=%7B%7D`;
    for (const origin of [undefined, "https://app.example.com", "https://evil.example.com"]) {
      const res = await fetch(url, { headers: origin ? { origin } : {} });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      await res.body?.cancel();
      assert.equal(res.headers.get("cache-control"), "private, no-store");
      assert.equal(res.headers.get("vary"), "Origin");
      assert.equal(
        res.headers.get("access-control-allow-origin"),
        origin === "https://app.example.com" ? origin : null,
      );
    }
    const post = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    await post.body?.cancel();
    assert.equal(post.headers.get("cache-control"), null);
  } finally {
    await server.close();
  }
});
