/**
 * The AuthService methods one by one: registration rules, password hashing, API keys,
 * the admin methods, paging, GetMe, the first admin and the two deno tasks.
 */
import assert from "node:assert/strict";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { hash } from "@node-rs/argon2";
import { Role } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { main as adminCreate } from "../server/auth/admin_create.ts";
import { ensureFirstAdmin } from "../server/auth/first_admin.ts";
import { main as keysRotate } from "../server/auth/keys_rotate.ts";
import { as, createAuthTestbed, rpcError } from "../server/auth/testing.ts";

const PASSWORD = "a perfectly fine passphrase";

Deno.test("register: every field is checked and named; emails are unique in any case", async () => {
  const tb = await createAuthTestbed();
  try {
    const cases: [Record<string, string>, RegExp][] = [
      [{ email: "" }, /^email is required/],
      [{ email: "not-an-email" }, /^email is not an email address/],
      [{ email: `${"a".repeat(250)}@example.com` }, /^email is 262 characters long: the most is 254/],
      [{ password: "short" }, /^password must be at least 12 characters/],
      [{ password: "x".repeat(129) }, /^password must be at most 128/],
      [{ password: "qwertyuiop123" }, /^password is one of the most common passwords/],
      [{ password: "Someone.Long@Example.com" }, /^password must not be the email address/],
      [{ displayName: "  " }, /^display_name is required/],
      [{ displayName: "x".repeat(101) }, /^display_name is 101 characters long: the most is 100/],
      [{ displayName: "bad\u0007name" }, /^display_name contains a control character/],
    ];
    for (const [override, message] of cases) {
      const req = {
        email: "someone.long@example.com",
        password: PASSWORD,
        displayName: "Someone",
        ...override,
      };
      const error = await rpcError(tb.client.register(req));
      assert.equal(error.code, Code.InvalidArgument, JSON.stringify(override));
      assert.match(error.rawMessage, message);
    }

    const res = await tb.client.register({
      email: " Ada@Example.com ",
      password: PASSWORD,
      displayName: " Ada ",
    });
    assert.equal(res.user?.email, "Ada@Example.com");
    assert.equal(res.user?.displayName, "Ada");
    assert.equal(res.user?.role, Role.MEMBER);
    assert.equal(res.user?.emailVerified, false);
    // A taken email (in any case) creates nothing; tests/auth_register_test.ts checks the answer.
    await tb.client.register({ email: "ada@EXAMPLE.com", password: PASSWORD, displayName: "A" });
    assert.equal((await tb.db.sql`select count(*)::int as n from users`)[0].n, 1);

    const [row] = await tb.db.sql`select password_hash from users`;
    assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(!row.password_hash.includes(PASSWORD));
    const audit = await tb.db.sql`select action from audit_log`;
    assert.deepEqual(audit.map((r) => r.action), ["auth.register", "auth.register.existing_email"]);
  } finally {
    await tb.close();
  }
});

Deno.test("login re-hashes a password stored with other argon2 parameters", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("member");
    const weak = await hash(user.password, { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await tb.db.sql`update users set password_hash = ${weak} where id = ${user.id}`;
    await tb.login(user.email, user.password);
    const [row] = await tb.db.sql`select password_hash from users where id = ${user.id}`;
    assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await tb.login(user.email, user.password);
    const logins = await tb.db
      .sql`select count(*)::int as n from audit_log where action = 'auth.login.success'`;
    assert.equal(logins[0].n, 2);
  } finally {
    await tb.close();
  }
});

Deno.test("API keys: created with grantable scopes, shown once, used, listed, expired and revoked", async () => {
  const tb = await createAuthTestbed();
  try {
    const viewer = await tb.createUser("viewer");
    let { access } = await tb.login(viewer.email, viewer.password);

    const unknown = await rpcError(
      tb.client.createApiKey({ name: "k", scopes: ["tasks:read", "root"] }, as(access)),
    );
    assert.equal(unknown.code, Code.InvalidArgument);
    assert.match(unknown.rawMessage, /^scopes\[1\] "root" is not a known scope/);
    const none = await rpcError(tb.client.createApiKey({ name: "k", scopes: [] }, as(access)));
    assert.match(none.rawMessage, /^scopes must name at least one scope/);
    const tooMuch = await rpcError(
      tb.client.createApiKey({ name: "k", scopes: ["tasks:enqueue"] }, as(access)),
    );
    assert.equal(tooMuch.code, Code.PermissionDenied);
    const past = await rpcError(
      tb.client.createApiKey(
        { name: "k", scopes: ["tasks:read"], expireTime: timestampFromMs(tb.clock.now() - 1) },
        as(access),
      ),
    );
    assert.match(past.rawMessage, /^expire_time is in the past/);

    const created = await tb.client.createApiKey({
      name: "reporting",
      scopes: ["tasks:read", "tags:read", "tasks:read"],
      expireTime: timestampFromMs(tb.clock.now() + 3600_000),
    }, as(access));
    const { secret, apiKey } = created;
    assert.match(secret, /^tmk_[A-Za-z0-9_-]{43}$/);
    assert.equal(apiKey?.prefix, secret.slice(0, 8));
    assert.deepEqual(apiKey?.scopes, ["tasks:read", "tags:read"]);
    const [stored] = await tb.db.sql`select secret_hash from api_keys`;
    assert.equal(stored.secret_hash.length, 32);

    // The key works, and its use is recorded.
    const me = await tb.client.getMe({}, as(secret));
    assert.equal(me.apiKeyId, apiKey?.id);
    assert.deepEqual(me.scopes, ["tasks:read", "tags:read"]);
    assert.equal(me.user, undefined);
    let [listed] = (await tb.client.listApiKeys({}, as(access))).apiKeys;
    assert.equal(Number(listed.lastUsedTime?.seconds) * 1000, tb.clock.now());

    // Expired keys stop working.
    tb.clock.advance(3600_000);
    assert.equal((await rpcError(tb.client.getMe({}, as(secret)))).code, Code.Unauthenticated);
    ({ access } = await tb.login(viewer.email, viewer.password));

    // Revocation works at once; another user's key answers NotFound.
    const second = await tb.client.createApiKey({ name: "second", scopes: ["tags:read"] }, as(access));
    const other = await tb.createUser("viewer");
    const otherSession = await tb.login(other.email, other.password);
    const notMine = await rpcError(
      tb.client.revokeApiKey({ id: second.apiKey!.id }, as(otherSession.access)),
    );
    assert.equal(notMine.code, Code.NotFound);
    await tb.client.getMe({}, as(second.secret));
    const revoked = await tb.client.revokeApiKey({ id: second.apiKey!.id }, as(access));
    assert.ok(revoked.apiKey?.revokeTime);
    assert.equal((await rpcError(tb.client.getMe({}, as(second.secret)))).code, Code.Unauthenticated);
    [listed] = (await tb.client.listApiKeys({}, as(access))).apiKeys;
    assert.equal(listed.id, apiKey?.id, "revoked keys are hidden unless asked for");
    assert.equal((await tb.client.listApiKeys({ includeRevoked: true }, as(access))).apiKeys.length, 2);
    assert.equal((await tb.client.listApiKeys({}, as(otherSession.access))).apiKeys.length, 0);

    const actions = await tb.db
      .sql`select action from audit_log where action like 'auth.api_key.%' order by id`;
    assert.deepEqual(actions.map((r) => r.action), [
      "auth.api_key.create",
      "auth.api_key.create",
      "auth.api_key.revoke",
    ]);
  } finally {
    await tb.close();
  }
});

Deno.test("a key never does more than its owner could grant today", async () => {
  const tb = await createAuthTestbed();
  try {
    const admin = await tb.createUser("admin");
    const adminSession = await tb.login(admin.email, admin.password);
    const op = await tb.createUser("operator");
    const { access } = await tb.login(op.email, op.password);
    const { secret } = await tb.client.createApiKey(
      { name: "ci", scopes: ["tasks:enqueue", "tasks:read"] },
      as(access),
    );
    assert.deepEqual((await tb.client.getMe({}, as(secret))).scopes, ["tasks:enqueue", "tasks:read"]);
    await tb.client.setRole({ userId: op.id, role: Role.VIEWER }, as(adminSession.access));
    assert.deepEqual((await tb.client.getMe({}, as(secret))).scopes, ["tasks:read"]);
    // Admins see every key.
    assert.equal((await tb.client.listApiKeys({}, as(adminSession.access))).apiKeys.length, 1);
  } finally {
    await tb.close();
  }
});

Deno.test("ListUsers pages with an opaque token and filters by role and email prefix", async () => {
  const tb = await createAuthTestbed();
  try {
    const admin = await tb.createUser("admin", { email: "root@example.com" });
    const { access } = await tb.login(admin.email, admin.password);
    for (let i = 0; i < 6; i++) {
      await tb.createUser(i % 2 ? "viewer" : "member", { email: `user_${i}@example.com` });
      tb.clock.advance(1);
    }
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await tb.client.listUsers({ pageSize: 3, pageToken }, as(access));
      seen.push(...page.users.map((u) => u.email));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    assert.equal(pages, 3);
    assert.equal(new Set(seen).size, 7);

    const viewers = await tb.client.listUsers({ role: Role.VIEWER }, as(access));
    assert.deepEqual(viewers.users.map((u) => u.email), [
      "user_1@example.com",
      "user_3@example.com",
      "user_5@example.com",
    ]);
    // The prefix is literal: "_" is not a wildcard.
    assert.equal((await tb.client.listUsers({ emailPrefix: "USER_" }, as(access))).users.length, 6);
    assert.equal((await tb.client.listUsers({ emailPrefix: "user%" }, as(access))).users.length, 0);

    const bad = await rpcError(tb.client.listUsers({ pageToken: "garbage" }, as(access)));
    assert.equal(bad.code, Code.InvalidArgument);
    assert.match(bad.rawMessage, /^page_token is not a token this list returned/);
    const negative = await rpcError(tb.client.listUsers({ pageSize: -1 }, as(access)));
    assert.match(negative.rawMessage, /^page_size/);
    assert.equal((await tb.client.listUsers({ pageSize: 5000 }, as(access))).users.length, 7);
  } finally {
    await tb.close();
  }
});

Deno.test("SetRole changes roles with an audit row and never removes the last admin", async () => {
  const tb = await createAuthTestbed();
  try {
    const admin = await tb.createUser("admin");
    const { access } = await tb.login(admin.email, admin.password);
    const member = await tb.createUser("member");

    const res = await tb.client.setRole({ userId: member.id, role: Role.OPERATOR }, as(access));
    assert.equal(res.user?.role, Role.OPERATOR);
    const [row] = await tb.db
      .sql`select actor, target, details from audit_log where action = 'auth.role.set'`;
    assert.deepEqual(row.details, { from: "member", to: "operator" });
    assert.equal(row.actor, `user:${admin.id}`);

    const last = await rpcError(tb.client.setRole({ userId: admin.id, role: Role.MEMBER }, as(access)));
    assert.equal(last.code, Code.FailedPrecondition);
    assert.equal(
      (await rpcError(tb.client.setRole({ userId: member.id, role: Role.UNSPECIFIED }, as(access)))).code,
      Code.InvalidArgument,
    );
    assert.match(
      (await rpcError(tb.client.setRole({ userId: "nope", role: Role.ADMIN }, as(access)))).rawMessage,
      /^user_id /,
    );
    assert.equal(
      (await rpcError(tb.client.setRole({ userId: crypto.randomUUID(), role: Role.ADMIN }, as(access)))).code,
      Code.NotFound,
    );
    // With a second admin, the first may step down.
    await tb.client.setRole({ userId: member.id, role: Role.ADMIN }, as(access));
    await tb.client.setRole({ userId: admin.id, role: Role.VIEWER }, as(access));
  } finally {
    await tb.close();
  }
});

Deno.test("DisableUser revokes the user's sessions and API keys and blocks sign-in", async () => {
  const tb = await createAuthTestbed();
  try {
    const admin = await tb.createUser("admin");
    const adminSession = await tb.login(admin.email, admin.password);
    const op = await tb.createUser("operator");
    const session = await tb.login(op.email, op.password);
    const { secret } = await tb.client.createApiKey(
      { name: "enqueuer", scopes: ["tasks:enqueue"] },
      as(session.access),
    );

    const res = await tb.client.disableUser(
      { userId: op.id, reason: "left the team" },
      as(adminSession.access),
    );
    assert.equal(res.user?.disabled, true);
    assert.equal(
      (await rpcError(tb.client.refresh({ refreshToken: session.refresh }))).code,
      Code.Unauthenticated,
    );
    assert.equal((await rpcError(tb.client.getMe({}, as(secret)))).code, Code.Unauthenticated);
    const login = await rpcError(tb.client.login({ email: op.email, password: op.password }));
    assert.equal(login.code, Code.PermissionDenied);
    const [row] = await tb.db.sql`select details from audit_log where action = 'auth.user.disable'`;
    assert.deepEqual(row.details, { reason: "left the team", sessions_revoked: 1, api_keys_revoked: 1 });

    const self = await rpcError(tb.client.disableUser({ userId: admin.id }, as(adminSession.access)));
    assert.equal(self.code, Code.FailedPrecondition);
  } finally {
    await tb.close();
  }
});

Deno.test("the first admin is created once, on an empty database, with a one-time password that works", async () => {
  const tb = await createAuthTestbed();
  try {
    const deps = { sql: tb.db.sql, clock: tb.clock, log: tb.log };
    const [first, second] = await Promise.all([ensureFirstAdmin(deps), ensureFirstAdmin(deps)]);
    const created = first ?? second;
    assert.ok(created && (first === null || second === null), "exactly one creates it");
    assert.equal(created.password.length, 20);
    assert.equal(await ensureFirstAdmin(deps), null);
    const { access } = await tb.login(created.email, created.password);
    assert.equal((await tb.client.getMe({}, as(access))).user?.role, Role.ADMIN);
  } finally {
    await tb.close();
  }
});

Deno.test("deno task admin:create and keys:rotate work against a database", async () => {
  const tb = await createAuthTestbed();
  try {
    const env = { DATABASE_URL: tb.db.url, TASKMESH_LOG_LEVEL: "error" };
    assert.equal(await adminCreate(["--email", "ops@example.com", "--password", PASSWORD], env), 0);
    assert.equal(await adminCreate(["--email", "OPS@example.com", "--password", PASSWORD], env), 1);
    assert.equal(await adminCreate(["--email", "weak@example.com", "--password", "short"], env), 1);
    const { access } = await tb.login("ops@example.com", PASSWORD);
    assert.equal((await tb.client.getMe({}, as(access))).user?.role, Role.ADMIN);

    const before = (await tb.runtime.keys.currentKey()).kid;
    assert.equal(await keysRotate(env), 0);
    const keys = await tb.db.sql`select kid, retired_at from signing_keys order by created_at`;
    assert.equal(keys.length, 2);
    assert.equal(keys[0].kid, before);
    assert.notEqual(keys[0].retired_at, null);
  } finally {
    await tb.close();
  }
});
