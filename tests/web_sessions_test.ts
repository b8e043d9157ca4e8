/**
 * Browser sessions over the real server: with `x-taskmesh-session: cookie`, the refresh
 * token travels only in an HttpOnly SameSite=Strict cookie scoped to the AuthService
 * path; Refresh and Logout read it from there; API clients keep the token in the body.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { readRefreshCookie, REFRESH_COOKIE } from "../server/auth/browser_sessions.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import { ensureWebBuild } from "../server/web/build.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";

async function member(server: TestServer): Promise<{ email: string; password: string }> {
  const email = `web-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `a long passphrase ${crypto.randomUUID()}`;
  await insertUser(server.deps.sql, {
    id: crypto.randomUUID(),
    email,
    displayName: "Web Member",
    passwordHash: await hashPassword(password),
    role: "member",
    verifiedAt: new Date(),
    now: new Date(),
  });
  return { email, password };
}

/** A Connect JSON call as the web app makes it. */
async function call(
  server: TestServer,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; cookies: string[] }> {
  const res = await fetch(`${server.url}/taskmesh.auth.v1.AuthService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json(), cookies: res.headers.getSetCookie() };
}

const COOKIE_MODE = { "x-taskmesh-session": "cookie" };

function cookieValue(setCookie: string): string {
  return setCookie.split(";")[0].split("=").slice(1).join("=");
}

Deno.test("cookie sessions: Login, Refresh and Logout keep the refresh token out of JavaScript's reach", async () => {
  // No grace for a just-rotated token, so a spent cookie is refused at once.
  const server = await startTestServer({ env: { TASKMESH_AUTH_REFRESH_REUSE_GRACE_SECONDS: "0" } });
  try {
    const { email, password } = await member(server);
    const login = await call(server, "Login", { email, password }, COOKIE_MODE);
    assert.equal(login.status, 200);
    const tokens = login.json.tokens as Record<string, string>;
    assert.ok(tokens.accessToken);
    assert.equal(tokens.refreshToken, undefined, "the body carries no refresh token");
    assert.ok(tokens.refreshTokenExpireTime);
    assert.equal(login.cookies.length, 1);
    const [set] = login.cookies;
    assert.match(set, /^taskmesh_refresh=[A-Za-z0-9_-]{20,};/);
    assert.match(set, /; Path=\/taskmesh\.auth\.v1\.AuthService(;|$)/);
    assert.match(set, /; HttpOnly(;|$)/);
    assert.match(set, /; SameSite=Strict(;|$)/);
    assert.match(set, /; Max-Age=\d{4,}(;|$)/);
    // Plain http here: a Secure cookie would never come back.
    assert.doesNotMatch(set, /Secure/);

    // Refresh reads the cookie and rotates it; the old one is spent.
    const first = cookieValue(set);
    const refreshed = await call(server, "Refresh", {}, {
      ...COOKIE_MODE,
      cookie: `taskmesh_refresh=${first}`,
    });
    assert.equal(refreshed.status, 200);
    assert.equal((refreshed.json.tokens as Record<string, string>).refreshToken, undefined);
    const second = cookieValue(refreshed.cookies[0]);
    assert.notEqual(second, first);

    // No cookie: Unauthenticated. A spent cookie: Unauthenticated and the cookie is cleared.
    const none = await call(server, "Refresh", {}, COOKIE_MODE);
    assert.equal(none.json.code, "unauthenticated");
    const spent = await call(server, "Refresh", {}, { ...COOKIE_MODE, cookie: `taskmesh_refresh=${first}` });
    assert.equal(spent.json.code, "unauthenticated");
    assert.match(spent.cookies[0] ?? "", /^taskmesh_refresh=; .*Max-Age=0/);

    // Log in again (the reuse above revoked that family), then log out: the cookie is cleared and dead.
    const again = await call(server, "Login", { email, password }, COOKIE_MODE);
    const live = cookieValue(again.cookies[0]);
    const out = await call(server, "Logout", {}, { ...COOKIE_MODE, cookie: `taskmesh_refresh=${live}` });
    assert.equal(out.status, 200);
    assert.match(out.cookies[0], /^taskmesh_refresh=; .*Max-Age=0/);
    const after = await call(server, "Refresh", {}, { ...COOKIE_MODE, cookie: `taskmesh_refresh=${live}` });
    assert.equal(after.json.code, "unauthenticated");

    // LogoutAll clears it too.
    const third = await call(server, "Login", { email, password }, COOKIE_MODE);
    const access = (third.json.tokens as Record<string, string>).accessToken;
    const all = await call(server, "LogoutAll", {}, { ...COOKIE_MODE, authorization: `Bearer ${access}` });
    assert.equal(all.status, 200);
    assert.match(all.cookies[0], /^taskmesh_refresh=; .*Max-Age=0/);
  } finally {
    await server.close();
  }
});

Deno.test("cookie sessions: API clients keep the refresh token in the body and get no cookie", async () => {
  const server = await startTestServer();
  try {
    const { email, password } = await member(server);
    const login = await call(server, "Login", { email, password });
    assert.deepEqual(login.cookies, []);
    const refreshToken = (login.json.tokens as Record<string, string>).refreshToken;
    assert.ok(refreshToken);
    const client = createClient(AuthService, server.grpc());
    const refreshed = await client.refresh({ refreshToken });
    assert.ok(refreshed.tokens?.refreshToken);
  } finally {
    await server.close();
  }
});

Deno.test("cookie sessions: the Secure flag is set when the public URL is https", async () => {
  const server = await startTestServer({ env: { TASKMESH_PUBLIC_URL: "https://members.example.test" } });
  try {
    const { email, password } = await member(server);
    const login = await call(server, "Login", { email, password }, COOKIE_MODE);
    assert.match(login.cookies[0], /; Secure(;|$)/);
  } finally {
    await server.close();
  }
});

Deno.test("cookie sessions: ChangePassword hands the fresh session's refresh token over as a cookie", async () => {
  const server = await startTestServer();
  try {
    const { email, password } = await member(server);
    const login = await call(server, "Login", { email, password }, COOKIE_MODE);
    const access = (login.json.tokens as Record<string, string>).accessToken;
    const newPassword = `another long passphrase ${crypto.randomUUID()}`;
    const changed = await call(
      server,
      "ChangePassword",
      { currentPassword: password, newPassword },
      { ...COOKIE_MODE, authorization: `Bearer ${access}` },
    );
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    assert.equal((changed.json.tokens as Record<string, string>).refreshToken, undefined);
    assert.match(changed.cookies[0], /^taskmesh_refresh=[A-Za-z0-9_-]{20,}; .*HttpOnly; SameSite=Strict/);
    // The old cookie's session was ended; the new one refreshes.
    const old = await call(server, "Refresh", {}, {
      ...COOKIE_MODE,
      cookie: `taskmesh_refresh=${cookieValue(login.cookies[0])}`,
    });
    assert.equal(old.json.code, "unauthenticated");
    const fresh = await call(server, "Refresh", {}, {
      ...COOKIE_MODE,
      cookie: `taskmesh_refresh=${cookieValue(changed.cookies[0])}`,
    });
    assert.equal(fresh.status, 200);
  } finally {
    await server.close();
  }
});

Deno.test("cookie sessions: over TLS the cookie is Secure (h2 and HTTP/1.1), and the pages are served there too", async () => {
  const dir = await Deno.makeTempDir();
  const made = await new Deno.Command("openssl", {
    args: [
      ...[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
      ],
      ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
  await ensureWebBuild();
  const server = await startTestServer({
    env: { TASKMESH_TLS_CERT_FILE: `${dir}/cert.pem`, TASKMESH_TLS_KEY_FILE: `${dir}/key.pem` },
  });
  // curl as the client, as tests/server_test.ts does: Deno's node:tls client fails against this server.
  const curl = async (version: string, path: string, args: string[]) => {
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        version,
        "--cacert",
        `${dir}/cert.pem`,
        "-D",
        "-",
        "-o",
        "/dev/null",
        ...args,
        server.url + path,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).toLowerCase();
  };
  try {
    const { email, password } = await member(server);
    for (const version of ["--http2", "--http1.1"]) {
      const headers = await curl(version, "/taskmesh.auth.v1.AuthService/Login", [
        ...["-X", "POST", "-H", "content-type: application/json", "-H", "x-taskmesh-session: cookie"],
        ...["-d", JSON.stringify({ email, password })],
      ]);
      assert.match(headers, /^set-cookie: taskmesh_refresh=[^\r\n]*; httponly; samesite=strict; secure\r?$/m);
      const page = await curl(version, "/signup", []);
      assert.match(page, /^http\/[12](\.1)? 200/);
      assert.match(page, /^content-security-policy: default-src 'none'/m);
    }
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two refresh cookies (one tossed from a sibling subdomain) are refused, naming the fix", () => {
  assert.equal(readRefreshCookie(`a=1; ${REFRESH_COOKIE}=mine; b=2`), "mine");
  assert.equal(readRefreshCookie(null), "");
  assert.throws(
    () => readRefreshCookie(`${REFRESH_COOKIE}=planted; a=1; ${REFRESH_COOKIE}=mine`),
    (error: unknown) =>
      error instanceof ConnectError && error.code === Code.Unauthenticated &&
      /2 taskmesh_refresh cookies/.test(error.rawMessage) && /log in again/.test(error.rawMessage),
  );
});
