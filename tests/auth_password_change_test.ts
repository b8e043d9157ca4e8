/**
 * ChangePassword: the current password is required and rate limited like Login, the
 * new one follows the Register rules, every other session ends, and the caller gets a
 * fresh session.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { as, createAuthTestbed, rpcError } from "../server/auth/testing.ts";

const NEW_PASSWORD = "a brand new passphrase";

Deno.test("ChangePassword needs the current password, ends every other session and returns a fresh one", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("member");
    const here = await tb.login(user.email, user.password);
    const elsewhere = await tb.login(user.email, user.password);

    const wrong = await rpcError(
      tb.client.changePassword(
        { currentPassword: "not the password at all", newPassword: NEW_PASSWORD },
        as(here.access),
      ),
    );
    assert.equal(wrong.code, Code.PermissionDenied);
    assert.match(wrong.rawMessage, /^current password is wrong: /);
    // Nothing changed: the old password still works and no session ended.
    await tb.client.refresh({ refreshToken: elsewhere.refresh }).then((r) =>
      elsewhere.refresh = r.tokens!.refreshToken
    );

    const res = await tb.client.changePassword(
      { currentPassword: user.password, newPassword: NEW_PASSWORD },
      as(here.access),
    );
    const tokens = res.tokens!;
    assert.ok(tokens.accessToken && tokens.refreshToken);
    assert.equal((await tb.client.getMe({}, as(tokens.accessToken))).user?.id, user.id);
    // Every earlier refresh family is revoked, the caller's own included: the fresh pair replaces it.
    for (const old of [here.refresh, elsewhere.refresh]) {
      assert.equal((await rpcError(tb.client.refresh({ refreshToken: old }))).code, Code.Unauthenticated);
    }
    const next = await tb.client.refresh({ refreshToken: tokens.refreshToken });
    assert.ok(next.tokens?.refreshToken);

    assert.equal((await rpcError(tb.login(user.email, user.password))).code, Code.Unauthenticated);
    await tb.login(user.email, NEW_PASSWORD);
    const audit = await tb.db.sql<{ action: string; details: { sessions_revoked?: number } }[]>`
      select action, details from audit_log where action like 'auth.password_change%' order by id`;
    assert.deepEqual(audit.map((r) => r.action), ["auth.password_change.failure", "auth.password_change"]);
    assert.equal(audit[1].details.sessions_revoked, 2);
  } finally {
    await tb.close();
  }
});

Deno.test("ChangePassword applies the Register rules to the new password, naming the field", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("viewer", { email: "someone.long@example.com" });
    const { access } = await tb.login(user.email, user.password);
    const cases: [{ currentPassword?: string; newPassword?: string }, RegExp][] = [
      [{ currentPassword: "" }, /^current_password is required/],
      [{ newPassword: "short" }, /^new_password must be at least 12 characters/],
      [{ newPassword: "x".repeat(129) }, /^new_password must be at most 128/],
      [{ newPassword: "qwertyuiop123" }, /^new_password is one of the most common passwords/],
      [{ newPassword: "Someone.Long@Example.com" }, /^new_password must not be the email address/],
      [{ newPassword: user.password }, /^new_password is the current password/],
    ];
    for (const [override, message] of cases) {
      const error = await rpcError(
        tb.client.changePassword(
          { currentPassword: user.password, newPassword: NEW_PASSWORD, ...override },
          as(access),
        ),
      );
      assert.equal(error.code, Code.InvalidArgument, JSON.stringify(override));
      assert.match(error.rawMessage, message);
    }
    // None of them changed anything.
    await tb.login(user.email, user.password);
  } finally {
    await tb.close();
  }
});

Deno.test("ChangePassword is rate limited like Login, and refused to API keys and anonymous callers", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("admin");
    const { access } = await tb.login(user.email, user.password);
    const limit = tb.config.rateLimits.loginIpEmail.limit;
    for (let i = 0; i < limit; i++) {
      const error = await rpcError(
        tb.client.changePassword(
          { currentPassword: `wrong guess ${i}`, newPassword: NEW_PASSWORD },
          as(access, `10.0.0.${i}`),
        ),
      );
      assert.equal(error.code, Code.PermissionDenied, `guess ${i}`);
    }
    // Per user, whatever the address: the right password is not even checked now.
    const limited = await rpcError(
      tb.client.changePassword(
        { currentPassword: user.password, newPassword: NEW_PASSWORD },
        as(access, "10.9.9.9"),
      ),
    );
    assert.equal(limited.code, Code.ResourceExhausted);
    assert.match(limited.rawMessage, /^too many password attempts: try again in \d+ s/);
    tb.clock.advance(tb.config.rateLimits.loginIpEmail.periodMs);
    await tb.client.changePassword({ currentPassword: user.password, newPassword: NEW_PASSWORD }, as(access));

    const { secret } = await tb.client.createApiKey(
      { name: "k", scopes: ["tasks:read"] },
      as((await tb.login(user.email, NEW_PASSWORD)).access),
    );
    const byKey = await rpcError(
      tb.client.changePassword(
        { currentPassword: NEW_PASSWORD, newPassword: "yet another passphrase" },
        as(secret),
      ),
    );
    assert.equal(byKey.code, Code.PermissionDenied);
    const anonymous = await rpcError(
      tb.client.changePassword({ currentPassword: NEW_PASSWORD, newPassword: "yet another passphrase" }),
    );
    assert.equal(anonymous.code, Code.Unauthenticated);
  } finally {
    await tb.close();
  }
});
