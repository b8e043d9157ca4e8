/**
 * Refresh-token rotation: every use rotates; an already-rotated token revokes the
 * family (with a short grace for the token rotated just before); idle and absolute
 * lifetimes; Logout, LogoutAll; and the audit trail of reuse.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { as, type AuthTestbed, createAuthTestbed, rpcError } from "../server/auth/testing.ts";

async function refreshCode(tb: AuthTestbed, token: string): Promise<"ok" | Code> {
  try {
    await tb.client.refresh({ refreshToken: token });
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

async function rotate(tb: AuthTestbed, token: string): Promise<string> {
  const res = await tb.client.refresh({ refreshToken: token });
  return res.tokens!.refreshToken;
}

async function signedIn(tb: AuthTestbed) {
  const user = await tb.createUser("member");
  return { user, ...(await tb.login(user.email, user.password)) };
}

Deno.test("refresh rotates the token every time and hands out a fresh access token", async () => {
  const tb = await createAuthTestbed();
  try {
    const { user, refresh } = await signedIn(tb);
    assert.match(refresh, /^tmr_[A-Za-z0-9_-]{43}$/);
    tb.clock.advance(60_000);
    const res = await tb.client.refresh({ refreshToken: refresh });
    const next = res.tokens!.refreshToken;
    assert.notEqual(next, refresh);
    assert.equal((await tb.client.getMe({}, as(res.tokens!.accessToken))).user?.id, user.id);
    const stored = await tb.db.sql`select token_hash from refresh_tokens`;
    assert.equal(stored.length, 2);
    assert.ok(stored.every((r) => r.token_hash.length === 32), "only SHA-256 hashes are stored");
  } finally {
    await tb.close();
  }
});

Deno.test("reuse: presenting a rotated token after the grace revokes the whole family", async () => {
  const tb = await createAuthTestbed();
  try {
    const { user, refresh: first } = await signedIn(tb);
    const second = await rotate(tb, first);
    const third = await rotate(tb, second);
    tb.clock.advance((tb.config.refreshReuseGraceSeconds + 1) * 1000);

    // The thief (or a stale client) presents the first token again.
    assert.equal(await refreshCode(tb, first), Code.Unauthenticated);
    // The family is gone: even the newest token no longer works.
    assert.equal(await refreshCode(tb, third), Code.Unauthenticated);

    const [family] = await tb.db.sql`select revoked_at, revoke_reason from refresh_families`;
    assert.equal(family.revoke_reason, "reuse");
    const audit = await tb.db.sql`select target, details from audit_log where action = 'auth.refresh.reuse'`;
    assert.equal(audit.length, 1);
    assert.equal(audit[0].target, `user:${user.id}`);
    // A new login starts a new, healthy family.
    const again = await tb.login(user.email, user.password);
    assert.equal(await refreshCode(tb, again.refresh), "ok");
  } finally {
    await tb.close();
  }
});

Deno.test("reuse of an older token than the previous one revokes even inside the grace", async () => {
  const tb = await createAuthTestbed();
  try {
    const { refresh: first } = await signedIn(tb);
    const second = await rotate(tb, first);
    const third = await rotate(tb, second);
    // `first` is two rotations old: not the immediately previous token.
    assert.equal(await refreshCode(tb, first), Code.Unauthenticated);
    assert.equal(await refreshCode(tb, third), Code.Unauthenticated);
  } finally {
    await tb.close();
  }
});

Deno.test("grace: two tabs refreshing with the same token both stay signed in, once", async () => {
  const tb = await createAuthTestbed();
  try {
    const { refresh } = await signedIn(tb);
    const tabA = await rotate(tb, refresh);
    tb.clock.advance(tb.config.refreshReuseGraceSeconds * 1000 - 1);
    // Tab B presents the same (now rotated) token within the grace: it gets its own token.
    const tabB = await rotate(tb, refresh);
    assert.notEqual(tabA, tabB);
    // Both tabs go on refreshing independently.
    const tabA2 = await rotate(tb, tabA);
    const tabB2 = await rotate(tb, tabB);
    assert.equal(await refreshCode(tb, tabA2), "ok");
    assert.equal(await refreshCode(tb, tabB2), "ok");
    const [family] = await tb.db.sql`select revoked_at from refresh_families`;
    assert.equal(family.revoked_at, null);
  } finally {
    await tb.close();
  }
});

Deno.test("grace is granted only once per token", async () => {
  const tb = await createAuthTestbed();
  try {
    const { refresh } = await signedIn(tb);
    const current = await rotate(tb, refresh);
    await rotate(tb, refresh); // the grace
    assert.equal(await refreshCode(tb, refresh), Code.Unauthenticated); // a third presentation is reuse
    assert.equal(await refreshCode(tb, current), Code.Unauthenticated);
  } finally {
    await tb.close();
  }
});

Deno.test("idle lifetime: a token unused for too long is refused, without revoking anything", async () => {
  const tb = await createAuthTestbed({
    env: { TASKMESH_AUTH_REFRESH_IDLE_SECONDS: "3600", TASKMESH_AUTH_REFRESH_ABSOLUTE_SECONDS: "86400" },
  });
  try {
    const { refresh } = await signedIn(tb);
    tb.clock.advance(3599_000);
    const next = await rotate(tb, refresh);
    tb.clock.advance(3600_000);
    const error = await rpcError(tb.client.refresh({ refreshToken: next }));
    assert.equal(error.code, Code.Unauthenticated);
    assert.match(error.rawMessage, /expired: log in again/);
  } finally {
    await tb.close();
  }
});

Deno.test("absolute lifetime: a family ends on time however often it is refreshed", async () => {
  const tb = await createAuthTestbed({
    env: { TASKMESH_AUTH_REFRESH_IDLE_SECONDS: "3600", TASKMESH_AUTH_REFRESH_ABSOLUTE_SECONDS: "7200" },
  });
  try {
    const { refresh } = await signedIn(tb);
    let token = refresh;
    for (let i = 0; i < 3; i++) {
      tb.clock.advance(1800_000);
      const res = await tb.client.refresh({ refreshToken: token });
      token = res.tokens!.refreshToken;
      const expires = Number(res.tokens!.refreshTokenExpireTime!.seconds) * 1000;
      assert.ok(expires <= tb.clock.now() - 1800_000 * (i + 1) + 7200_000, "never past the absolute limit");
    }
    tb.clock.advance(1800_000); // two hours since login
    assert.equal(await refreshCode(tb, token), Code.Unauthenticated);
  } finally {
    await tb.close();
  }
});

Deno.test("logout ends this session only; logout-all ends every session of the caller", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("member");
    const a = await tb.login(user.email, user.password);
    const b = await tb.login(user.email, user.password);
    const c = await tb.login(user.email, user.password);

    await tb.client.logout({ refreshToken: a.refresh });
    assert.equal(await refreshCode(tb, a.refresh), Code.Unauthenticated);
    assert.equal(await refreshCode(tb, b.refresh), "ok");
    // Logging out twice, or with a token nobody knows, is not an error.
    await tb.client.logout({ refreshToken: a.refresh });
    await tb.client.logout({ refreshToken: "tmr_unknown" });

    const res = await tb.client.logoutAll({}, as(c.access));
    assert.equal(res.revokedSessions, 2);
    assert.equal(await refreshCode(tb, c.refresh), Code.Unauthenticated);
    const error = await rpcError(tb.client.logout({ refreshToken: "" }));
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /^refresh_token /);
  } finally {
    await tb.close();
  }
});

Deno.test("concurrent refreshes of one token: one rotation, one grace, and the family survives", async () => {
  const tb = await createAuthTestbed();
  try {
    const { refresh } = await signedIn(tb);
    const results = await Promise.all([refreshCode(tb, refresh), refreshCode(tb, refresh)]);
    assert.deepEqual(results, ["ok", "ok"]);
    const [family] = await tb.db.sql`select revoked_at from refresh_families`;
    assert.equal(family.revoked_at, null);
  } finally {
    await tb.close();
  }
});
