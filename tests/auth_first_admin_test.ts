/**
 * The first admin's password is truly one-time: its token allows only ChangePassword,
 * GetMe, Logout and Refresh until the password is changed; and a start after one that
 * died before anyone read the banner prints a new one-time password, voiding the old.
 */
import assert from "node:assert/strict";
import { Code, createClient } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ensureFirstAdmin, ONE_TIME_PASSWORD_MIN_AGE_MS } from "../server/auth/first_admin.ts";
import { as, createAuthTestbed, rpcError } from "../server/auth/testing.ts";

const NEW_PASSWORD = "the admin's own passphrase";

Deno.test("the first admin must change the one-time password before anything else", async () => {
  // Other services behind the same interceptor, not implemented: a call that passes the gate answers Unimplemented.
  const tb = await createAuthTestbed({
    routes: (router) => {
      router.service(TagService, {});
      router.service(TaskService, {});
    },
  });
  const tags = createClient(TagService, tb.transport);
  const tasks = createClient(TaskService, tb.transport);
  try {
    const deps = { sql: tb.db.sql, clock: tb.clock, log: tb.log };
    const admin = await ensureFirstAdmin(deps);
    assert.ok(admin && !admin.replaced);
    const login = await tb.client.login({ email: admin.email, password: admin.password });
    assert.equal(login.user?.passwordChangeRequired, true);
    const access = login.tokens!.accessToken;
    assert.equal(decodeJwt(access).pcr, true, "the token carries the requirement");

    // Open: who am I, renew, change.
    const me = await tb.client.getMe({}, as(access));
    assert.equal(me.user?.passwordChangeRequired, true);
    const renewed = await tb.client.refresh({ refreshToken: login.tokens!.refreshToken });
    const stillGated = renewed.tokens!.accessToken;

    // Closed: everything else, whatever the role allows.
    for (
      const call of [
        () => tb.client.listUsers({}, as(access)),
        () => tb.client.createApiKey({ name: "k", scopes: ["tasks:read"] }, as(access)),
        () => tb.client.logoutAll({}, as(stillGated)),
        () => tb.client.rotateSigningKey({}, as(stillGated)),
        () => tags.listTags({}, as(access)),
        () => tasks.listQueues({}, as(access)),
      ]
    ) {
      const error = await rpcError(call());
      assert.equal(error.code, Code.PermissionDenied);
      assert.match(error.rawMessage, /^your password must be changed first: call ChangePassword/);
    }
    assert.equal((await tb.db.sql`select count(*)::int as n from api_keys`)[0].n, 0);

    const changed = await tb.client.changePassword(
      { currentPassword: admin.password, newPassword: NEW_PASSWORD },
      as(stillGated),
    );
    const free = changed.tokens!.accessToken;
    assert.equal(decodeJwt(free).pcr, undefined);
    assert.equal((await tb.client.listUsers({}, as(free))).users.length, 1);
    assert.equal((await tb.client.getMe({}, as(free))).user?.passwordChangeRequired, false);
    assert.equal((await rpcError(tags.listTags({}, as(free)))).code, Code.Unimplemented, "past the gate");
    assert.equal((await rpcError(tasks.listQueues({}, as(free)))).code, Code.Unimplemented, "past the gate");
    // The one-time password is gone for good; the new one signs in without the requirement.
    assert.equal((await rpcError(tb.login(admin.email, admin.password))).code, Code.Unauthenticated);
    const again = await tb.client.login({ email: admin.email, password: NEW_PASSWORD });
    assert.equal(again.user?.passwordChangeRequired, false);
    await tb.client.listUsers({}, as(again.tokens!.accessToken));
  } finally {
    await tb.close();
  }
});

Deno.test("a start after one whose banner nobody read prints a new one-time password and voids the old", async () => {
  const tb = await createAuthTestbed();
  try {
    const deps = { sql: tb.db.sql, clock: tb.clock, log: tb.log };
    const first = await ensureFirstAdmin(deps);
    assert.ok(first);
    // A start moments later (another instance, a quick restart) prints nothing: the banner may be on screen now.
    assert.equal(await ensureFirstAdmin(deps), null);
    assert.ok(tb.log.lines.some((r) => /printed by a start moments ago/.test(String(r.msg))));

    tb.clock.advance(ONE_TIME_PASSWORD_MIN_AGE_MS);
    // Two instances starting together: one replaces, the other prints nothing.
    const [a, b] = await Promise.all([ensureFirstAdmin(deps), ensureFirstAdmin(deps)]);
    const second = a ?? b;
    assert.ok(second && (a === null || b === null), "exactly one new password");
    assert.equal(second.replaced, true);
    assert.equal(second.email, first.email);
    assert.notEqual(second.password, first.password);
    assert.equal((await rpcError(tb.login(first.email, first.password))).code, Code.Unauthenticated);
    const audit = await tb.db.sql`select action from audit_log where actor = 'system' order by id`;
    assert.deepEqual(audit.map((r) => r.action), ["auth.user.create_admin", "auth.user.reset_first_admin"]);

    // Once someone signed in with it, the password was seen: no start replaces it again.
    const { access } = await tb.login(second.email, second.password);
    tb.clock.advance(10 * ONE_TIME_PASSWORD_MIN_AGE_MS);
    assert.equal(await ensureFirstAdmin(deps), null);
    assert.equal((await tb.client.getMe({}, as(access))).user?.passwordChangeRequired, true);
    await tb.login(second.email, second.password);
  } finally {
    await tb.close();
  }
});

Deno.test("a password reset by mail also ends a required change: the user chose the new password", async () => {
  const tb = await createAuthTestbed();
  try {
    const admin = await ensureFirstAdmin({ sql: tb.db.sql, clock: tb.clock, log: tb.log });
    assert.ok(admin);
    await tb.client.requestPasswordReset({ email: admin.email });
    await tb.runtime.settled();
    const token = /code: (\S+)/.exec(tb.mails.findLast((m) => m.to === admin.email)!.text)![1];
    await tb.client.resetPassword({ token, newPassword: NEW_PASSWORD });
    const login = await tb.client.login({ email: admin.email, password: NEW_PASSWORD });
    assert.equal(login.user?.passwordChangeRequired, false);
    await tb.client.listUsers({}, as(login.tokens!.accessToken));
  } finally {
    await tb.close();
  }
});
