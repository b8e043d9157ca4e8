/**
 * Verification and reset tokens (expired, reused, unknown, another user's, the
 * wrong purpose) and the answers that must not reveal whether an email has an
 * account: login, resend and reset.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { as, type AuthTestbed, createAuthTestbed, rpcError } from "../server/auth/testing.ts";

const PASSWORD = "a perfectly fine passphrase";

/** The token from the last mail sent to `to`. */
async function tokenMailedTo(tb: AuthTestbed, to: string): Promise<string> {
  await tb.runtime.settled();
  const mail = tb.mails.findLast((m) => m.to === to);
  assert.ok(mail, `no mail to ${to}`);
  return /code: (\S+)/.exec(mail.text)![1];
}

async function register(tb: AuthTestbed, email: string) {
  const res = await tb.client.register({ email, password: PASSWORD, displayName: email.split("@")[0] });
  return res.user!;
}

async function isVerified(tb: AuthTestbed, id: string): Promise<boolean> {
  const [row] = await tb.db.sql`select email_verified_at from users where id = ${id}`;
  return row.email_verified_at !== null;
}

Deno.test("verification: the mailed token verifies once; reused, expired and unknown tokens change nothing", async () => {
  const tb = await createAuthTestbed();
  try {
    const ada = await register(tb, "ada@example.com");
    await tb.runtime.settled();
    assert.match(tb.mails[0].text, /http:\/\/taskmesh\.test\/verify-email\?token=/);
    const token = await tokenMailedTo(tb, "ada@example.com");
    assert.equal(token.length, 43, "32 random bytes in base64url");
    const [stored] = await tb.db.sql`select token_hash from email_tokens`;
    assert.equal(stored.token_hash.length, 32);

    const unknown = await rpcError(tb.client.verifyEmail({ token: "A".repeat(43) }));
    assert.equal(unknown.code, Code.FailedPrecondition);
    assert.match(unknown.rawMessage, /is not valid: ask for a new verification mail/);
    assert.equal(await isVerified(tb, ada.id), false);

    const verified = await tb.client.verifyEmail({ token });
    assert.equal(verified.user?.emailVerified, true);
    const reused = await rpcError(tb.client.verifyEmail({ token }));
    assert.equal(reused.code, Code.FailedPrecondition);
    assert.match(reused.rawMessage, /already been used/);

    const bob = await register(tb, "bob@example.com");
    const bobToken = await tokenMailedTo(tb, "bob@example.com");
    tb.clock.advance(24 * 3600_000);
    const expired = await rpcError(tb.client.verifyEmail({ token: bobToken }));
    assert.equal(expired.code, Code.FailedPrecondition);
    assert.match(expired.rawMessage, /has expired/);
    assert.equal(await isVerified(tb, bob.id), false);
    const empty = await rpcError(tb.client.verifyEmail({ token: "" }));
    assert.equal(empty.code, Code.InvalidArgument);
    assert.match(empty.rawMessage, /^token /);
  } finally {
    await tb.close();
  }
});

Deno.test("a token belongs to one user and one purpose", async () => {
  const tb = await createAuthTestbed();
  try {
    const ada = await register(tb, "ada@example.com");
    const bob = await register(tb, "bob@example.com");
    const bobToken = await tokenMailedTo(tb, "bob@example.com");

    // Bob's token verifies Bob, never Ada.
    const res = await tb.client.verifyEmail({ token: bobToken });
    assert.equal(res.user?.id, bob.id);
    assert.equal(await isVerified(tb, ada.id), false);

    // A verification token is no reset token, and the reverse.
    const adaToken = await tokenMailedTo(tb, "ada@example.com");
    const asReset = await rpcError(
      tb.client.resetPassword({ token: adaToken, newPassword: "another fine passphrase" }),
    );
    assert.equal(asReset.code, Code.FailedPrecondition);
    assert.match(asReset.rawMessage, /reset token is not valid/);
    await tb.client.requestPasswordReset({ email: "bob@example.com" });
    const bobReset = await tokenMailedTo(tb, "bob@example.com");
    const asVerify = await rpcError(tb.client.verifyEmail({ token: bobReset }));
    assert.match(asVerify.rawMessage, /verification token is not valid/);
    // Ada's verification token still works after all that.
    assert.equal((await tb.client.verifyEmail({ token: adaToken })).user?.id, ada.id);
  } finally {
    await tb.close();
  }
});

Deno.test("password reset: the token sets a new password once and signs the user out everywhere", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("member", { email: "carol@example.com" });
    const session = await tb.login(user.email, user.password);
    await tb.client.requestPasswordReset({ email: "CAROL@example.com" });
    const token = await tokenMailedTo(tb, "carol@example.com");
    assert.match(tb.mails.at(-1)!.text, /http:\/\/taskmesh\.test\/reset-password\?token=/);

    // A weak password is refused and does not use the token up.
    const weak = await rpcError(tb.client.resetPassword({ token, newPassword: "password1234" }));
    assert.equal(weak.code, Code.InvalidArgument);
    assert.match(weak.rawMessage, /^new_password .*common/);
    const sameAsEmail = await rpcError(tb.client.resetPassword({ token, newPassword: "Carol@Example.com" }));
    assert.equal(sameAsEmail.code, Code.InvalidArgument);
    assert.match(sameAsEmail.rawMessage, /^new_password must not be the email/);

    await tb.client.resetPassword({ token, newPassword: "a brand new passphrase" });
    assert.equal(
      (await rpcError(tb.client.refresh({ refreshToken: session.refresh }))).code,
      Code.Unauthenticated,
    );
    assert.equal((await rpcError(tb.login(user.email, user.password))).code, Code.Unauthenticated);
    await tb.login(user.email, "a brand new passphrase");

    const reused = await rpcError(tb.client.resetPassword({ token, newPassword: "yet another passphrase" }));
    assert.equal(reused.code, Code.FailedPrecondition);
    assert.match(reused.rawMessage, /already been used/);
    const audit = await tb.db.sql`select action from audit_log where target = ${
      "user:" + user.id
    } order by id`;
    assert.ok(audit.some((r) => r.action === "auth.password_reset.request"));
    assert.ok(audit.some((r) => r.action === "auth.password_reset"));
  } finally {
    await tb.close();
  }
});

Deno.test("password reset: expired and unknown tokens change nothing", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("member", { email: "dan@example.com" });
    await tb.client.requestPasswordReset({ email: user.email });
    const token = await tokenMailedTo(tb, user.email);
    tb.clock.advance(3600_000);
    const expired = await rpcError(tb.client.resetPassword({ token, newPassword: "a brand new passphrase" }));
    assert.equal(expired.code, Code.FailedPrecondition);
    assert.match(expired.rawMessage, /reset token has expired: ask for a new reset mail/);
    const unknown = await rpcError(
      tb.client.resetPassword({ token: "x".repeat(43), newPassword: "a brand new passphrase" }),
    );
    assert.match(unknown.rawMessage, /reset token is not valid/);
    await tb.login(user.email, user.password);
  } finally {
    await tb.close();
  }
});

Deno.test("no enumeration: unknown email and wrong password give the same answer in similar time", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("member");
    const wrong = await rpcError(tb.client.login({ email: user.email, password: "not the password at all" }));
    const unknown = await rpcError(
      tb.client.login({ email: "nobody@example.com", password: "not the password at all" }),
    );
    assert.equal(wrong.code, Code.Unauthenticated);
    assert.equal(unknown.code, wrong.code);
    assert.equal(unknown.rawMessage, wrong.rawMessage);

    // Both pay for one argon2 verification; without the dummy hash the unknown email would answer at once.
    const time = async (email: string) => {
      const started = performance.now();
      for (let i = 0; i < 3; i++) {
        await rpcError(tb.client.login({ email, password: "not the password at all" }));
      }
      return performance.now() - started;
    };
    const known = await time(user.email);
    const unknownTime = await time("nobody@example.com");
    assert.ok(
      unknownTime > known * 0.3 && unknownTime < known * 3.3,
      `known ${known} ms, unknown ${unknownTime} ms`,
    );

    const failures = await tb.db
      .sql`select details from audit_log where action = 'auth.login.failure' order by id`;
    assert.equal(failures[0].details.reason, "wrong_password");
    assert.equal(failures[1].details.reason, "unknown_email");
  } finally {
    await tb.close();
  }
});

Deno.test("no enumeration: resend and reset answer the same for any email, and mail only real accounts", async () => {
  const tb = await createAuthTestbed();
  try {
    const unverified = await register(tb, "erin@example.com");
    const verified = await tb.createUser("member", { email: "finn@example.com" });
    await tb.runtime.settled();
    const before = tb.mails.length;

    assert.deepEqual(
      await tb.client.resendVerification({ email: "nobody@example.com" }),
      await tb.client.resendVerification({ email: unverified.email }),
    );
    await tb.client.resendVerification({ email: verified.email });
    await tb.client.requestPasswordReset({ email: "nobody@example.com" });
    await tb.runtime.settled();
    assert.deepEqual(tb.mails.slice(before).map((m) => m.to), ["erin@example.com"]);

    const bad = await rpcError(tb.client.resendVerification({ email: "not an email" }));
    assert.equal(bad.code, Code.InvalidArgument);
    assert.match(bad.rawMessage, /^email /);
  } finally {
    await tb.close();
  }
});

Deno.test("login is refused until the email is verified", async () => {
  const tb = await createAuthTestbed();
  try {
    await register(tb, "gus@example.com");
    const unverified = await rpcError(tb.client.login({ email: "gus@example.com", password: PASSWORD }));
    assert.equal(unverified.code, Code.FailedPrecondition);
    await tb.client.verifyEmail({ token: await tokenMailedTo(tb, "gus@example.com") });
    const { access } = await tb.login("GUS@example.com", PASSWORD);
    assert.equal((await tb.client.getMe({}, as(access))).user?.email, "gus@example.com");
  } finally {
    await tb.close();
  }
});
