/**
 * A member's whole journey over the real server, real Postgres, real Redis, a real
 * worker and a real SMTP server on loopback: register (Connect, as a browser would) →
 * the verification mail goes through the `emails` queue and the worker's `email.send`
 * to the SMTP server → the token from that mail verifies the account (gRPC-Web) →
 * login → refresh → logout (gRPC), and the refreshed session is really over.
 */
import assert from "node:assert/strict";
import { Code, createClient } from "@connectrpc/connect";
import { base64url } from "jose";
import { AuthService, Role } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { as, rpcError } from "../server/auth/testing.ts";
import { decodeQuotedPrintable, type ReceivedMail, startSmtpSink } from "../mail/testing.ts";
import { startMailWorker } from "./_support/mail_worker.ts";
import { startTestServer } from "./_support/server.ts";

/** Fails the test instead of hanging when the awaited thing never happens. */
function failAfter<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("member journey: register → mail → verify → login → refresh → logout, over the real server", async () => {
  const sink = await startSmtpSink();
  const server = await startTestServer({
    redis: true,
    env: {
      TASKMESH_MAIL_FROM: "taskmesh <no-reply@example.com>",
      TASKMESH_PUBLIC_URL: "http://members.example.test",
    },
  });
  // The server runs the task runtime, so its mails go through the queue to this worker;
  // the mail's From is still the server's (the worker's own default is not used).
  const mailer = await startMailWorker(server, {
    mail: { smtpUrl: sink.url, from: "worker <not-this@example.com>", outboxDir: "/nonexistent" },
  });
  try {
    const browser = createClient(AuthService, server.connect());
    const web = createClient(AuthService, server.grpcWeb());
    const grpc = createClient(AuthService, server.grpc());
    const email = `member-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = "my own long passphrase";

    const registered = await browser.register({ email, password, displayName: "Mia Member" });
    assert.equal(registered.user?.emailVerified, false);
    assert.equal(registered.user?.role, Role.MEMBER);
    // Not verified yet: login is refused.
    assert.equal((await rpcError(grpc.login({ email, password }))).code, Code.FailedPrecondition);

    const mail: ReceivedMail = await failAfter(
      10_000,
      "the verification mail",
      sink.waitFor((m) => m.to.includes(email)),
    );
    assert.equal(mail.from, "no-reply@example.com");
    const body = decodeQuotedPrintable(mail.raw);
    assert.match(body, /Subject: Confirm your taskmesh email address/);
    const link = /http:\/\/members\.example\.test\/verify-email\?token=([A-Za-z0-9_-]{43})/.exec(body);
    assert.ok(link, "the mail carries a link under the public URL");
    const token = link[1];

    const verified = await web.verifyEmail({ token });
    assert.equal(verified.user?.emailVerified, true);
    assert.equal((await rpcError(web.verifyEmail({ token }))).code, Code.FailedPrecondition);

    const login = await grpc.login({ email, password });
    const first = login.tokens!;
    assert.equal(login.user?.email, email);
    assert.ok(login.user?.lastLoginTime);
    const me = await grpc.getMe({}, as(first.accessToken));
    assert.equal(me.user?.id, registered.user?.id);
    // A member cannot reach admin methods with that token.
    assert.equal((await rpcError(grpc.listUsers({}, as(first.accessToken)))).code, Code.PermissionDenied);

    // The token verifies against the JWKS the server publishes over plain HTTP.
    const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
    const kid = JSON.parse(new TextDecoder().decode(base64url.decode(first.accessToken.split(".")[0]))).kid;
    assert.ok(jwks.keys.some((k: { kid: string }) => k.kid === kid));

    const refreshed = (await grpc.refresh({ refreshToken: first.refreshToken })).tokens!;
    assert.notEqual(refreshed.refreshToken, first.refreshToken);
    assert.equal((await grpc.getMe({}, as(refreshed.accessToken))).user?.email, email);

    await grpc.logout({ refreshToken: refreshed.refreshToken });
    const afterLogout = await rpcError(grpc.refresh({ refreshToken: refreshed.refreshToken }));
    assert.equal(afterLogout.code, Code.Unauthenticated);

    const audit = await server.db.sql`select action from audit_log order by id`;
    const actions = audit.map((r) => r.action);
    for (const action of ["auth.register", "auth.email_verified", "auth.login.success"]) {
      assert.ok(actions.includes(action), `audit has ${action}: ${actions.join(", ")}`);
    }
  } finally {
    await mailer.stop();
    await server.close();
    await sink.close();
  }
});
