/**
 * Access-token verification against the attacks it must stop: alg none, HMAC keyed
 * with the public key, other algorithms, tampering, wrong iss/aud/typ, expiry and
 * not-before, unknown kid, a known kid with a foreign signature — directly and
 * through the interceptor. Also rotation, and the JWKS served over HTTP.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { base64url, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { signAccessToken } from "../server/auth/access_tokens.ts";
import { jwksNodeHandler } from "../server/auth/jwks_http.ts";
import { as, type AuthTestbed, createAuthTestbed } from "../server/auth/testing.ts";
import {
  createTokenVerifier,
  KeysUnavailableError,
  remoteJwks,
  TokenError,
} from "../server/authz/token_verifier.ts";

const enc = (value: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(value)));

async function hs256(header: object, payload: object, secret: Uint8Array): Promise<string> {
  const input = `${enc(header)}.${enc(payload)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
  return `${input}.${base64url.encode(sig)}`;
}

/** Claims a real token would carry, at the testbed's clock. */
function claims(tb: AuthTestbed, extra: JWTPayload = {}): JWTPayload {
  const iat = Math.floor(tb.clock.now() / 1000);
  return {
    iss: tb.config.issuer,
    aud: tb.config.audience,
    sub: crypto.randomUUID(),
    role: "admin",
    scopes: [],
    iat,
    nbf: iat,
    exp: iat + 600,
    ...extra,
  };
}

async function signWithCurrent(tb: AuthTestbed, payload: JWTPayload, header: Record<string, unknown> = {}) {
  const key = await tb.runtime.keys.currentKey();
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "at+jwt", ...header })
    .sign(key.privateKey);
}

async function refused(tb: AuthTestbed, token: string): Promise<TokenError> {
  const error = await tb.runtime.verifyToken(token).then(() => undefined, (e) => e);
  assert.ok(error instanceof TokenError, `expected a TokenError, got ${error}`);
  // And the same token through the interceptor, on a method that needs a signed-in caller.
  const rpc = await tb.client.getMe({}, as(token)).then(() => undefined, (e) => ConnectError.from(e));
  assert.equal(rpc?.code, Code.Unauthenticated);
  return error;
}

Deno.test("JWT attacks are refused as Unauthenticated", async (t) => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("admin");
    const { access } = await tb.login(user.email, user.password);
    const good = await tb.runtime.verifyToken(access);
    assert.equal(good.userId, user.id);
    assert.equal(good.role, "admin");
    const key = await tb.runtime.keys.currentKey();
    const [jwk] = await tb.runtime.keys.publishedKeys();
    const [header, payload] = access.split(".");

    await t.step("alg none, with and without a signature part", async () => {
      const none = `${enc({ alg: "none", typ: "at+jwt", kid: key.kid })}.${payload}.`;
      await refused(tb, none);
      await refused(tb, none.slice(0, -1));
      await refused(tb, `${enc({ alg: "NONE", typ: "at+jwt", kid: key.kid })}.${payload}.`);
    });

    await t.step("HS256 keyed with the public key (algorithm confusion)", async () => {
      const h = { alg: "HS256", typ: "at+jwt", kid: key.kid };
      await refused(tb, await hs256(h, claims(tb), base64url.decode(jwk.x)));
      await refused(tb, await hs256(h, claims(tb), new TextEncoder().encode(JSON.stringify(jwk))));
    });

    await t.step("another asymmetric algorithm under the known kid", async () => {
      const es = await generateKeyPair("ES256");
      const token = await new SignJWT(claims(tb)).setProtectedHeader({
        alg: "ES256",
        kid: key.kid,
        typ: "at+jwt",
      })
        .sign(es.privateKey);
      await refused(tb, token);
    });

    await t.step("tampered payload with the original signature", async () => {
      const sig = access.split(".")[2];
      await refused(
        tb,
        `${header}.${enc({ ...claims(tb), sub: user.id, role: "admin", scopes: ["worker"] })}.${sig}`,
      );
    });

    await t.step("wrong issuer, wrong audience, wrong type", async () => {
      await refused(tb, await signWithCurrent(tb, claims(tb, { iss: "someone-else" })));
      await refused(tb, await signWithCurrent(tb, claims(tb, { aud: "another-service" })));
      await refused(tb, await signWithCurrent(tb, claims(tb), { typ: "JWT" }));
    });

    await t.step("not yet valid, beyond the allowed skew", async () => {
      const iat = Math.floor(tb.clock.now() / 1000) + 300;
      await refused(tb, await signWithCurrent(tb, claims(tb, { iat, nbf: iat, exp: iat + 600 })));
      // Inside the skew a clock that runs a little ahead is tolerated.
      const near = Math.floor(tb.clock.now() / 1000) + tb.config.clockSkewSeconds - 1;
      await tb.runtime.verifyToken(
        await signWithCurrent(tb, claims(tb, { iat: near, nbf: near, exp: near + 600 })),
      );
    });

    await t.step("issued in the future beyond the skew, even with a valid nbf and exp", async () => {
      const now = Math.floor(tb.clock.now() / 1000);
      const skew = tb.config.clockSkewSeconds;
      const future = await refused(
        tb,
        await signWithCurrent(tb, claims(tb, { iat: now + skew + 60, nbf: now })),
      );
      assert.equal(future.reason, "issued in the future");
      await tb.runtime.verifyToken(await signWithCurrent(tb, claims(tb, { iat: now + skew - 1, nbf: now })));
    });

    await t.step("a lifetime longer than the access TTL, however fresh", async () => {
      const now = Math.floor(tb.clock.now() / 1000);
      const ttl = tb.config.accessTtlSeconds;
      const skew = tb.config.clockSkewSeconds;
      const year = await refused(tb, await signWithCurrent(tb, claims(tb, { exp: now + 365 * 86_400 })));
      assert.match(year.reason, /^lifetime of \d+ s is longer than the access TTL$/);
      await refused(tb, await signWithCurrent(tb, claims(tb, { exp: now + ttl + skew + 1 })));
      // Backdated iat to shorten the apparent age does not help: the lifetime is exp − iat.
      await refused(tb, await signWithCurrent(tb, claims(tb, { iat: now - 3600, exp: now + ttl })));
      await tb.runtime.verifyToken(await signWithCurrent(tb, claims(tb, { exp: now + ttl + skew })));
      // Refused by every verifier, also one that reads keys from a JWKS elsewhere.
      const jwt = await signWithCurrent(tb, claims(tb, { exp: now + 2 * ttl }));
      const other = createTokenVerifier({
        keys: { keyFor: (kid) => tb.runtime.keys.keyFor(kid) },
        issuer: tb.config.issuer,
        audience: tb.config.audience,
        clock: tb.clock,
        clockSkewSeconds: skew,
        accessTtlSeconds: ttl,
      });
      await assert.rejects(other(jwt), TokenError);
    });

    await t.step("missing or wrong claims", async () => {
      const { role: _, ...noRole } = claims(tb);
      await refused(tb, await signWithCurrent(tb, noRole));
      await refused(tb, await signWithCurrent(tb, claims(tb, { role: "superuser" })));
      const { exp: __, ...noExp } = claims(tb);
      await refused(tb, await signWithCurrent(tb, noExp));
      await refused(tb, await signWithCurrent(tb, claims(tb, { scopes: "worker" })));
    });

    await t.step("unknown kid, no kid, and a known kid with a foreign signature", async () => {
      const stranger = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const foreign = (kid?: string) =>
        new SignJWT(claims(tb)).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", ...(kid ? { kid } : {}) })
          .sign(stranger.privateKey);
      await refused(tb, await foreign("unknown-kid"));
      await refused(tb, await foreign());
      await refused(tb, await foreign(key.kid));
    });

    await t.step("garbage", async () => {
      await refused(tb, "not.a.jwt");
      await refused(tb, "eyJhbGciOiJFZERTQSJ9");
    });

    await t.step("expired: accepted up to the skew, refused after, with a message that says so", async () => {
      tb.clock.advance((tb.config.accessTtlSeconds + tb.config.clockSkewSeconds - 1) * 1000);
      await tb.runtime.verifyToken(access);
      tb.clock.advance(2000);
      const error = await refused(tb, access);
      assert.equal(error.expired, true);
      const rpc = await tb.client.getMe({}, as(access)).then(() => undefined, (e) => ConnectError.from(e));
      assert.match(rpc!.rawMessage, /expired: refresh it or log in again/);
    });
  } finally {
    await tb.close();
  }
});

Deno.test("rotation: old tokens keep working while their key stays published, then the key disappears", async () => {
  const tb = await createAuthTestbed();
  try {
    const admin = await tb.createUser("admin");
    const before = await tb.login(admin.email, admin.password);
    const oldKid = (await tb.runtime.keys.currentKey()).kid;
    const { kid: newKid } = await tb.client.rotateSigningKey({}, as(before.access));
    assert.notEqual(newKid, oldKid);
    assert.equal((await tb.runtime.keys.currentKey()).kid, newKid);
    assert.deepEqual((await tb.client.getJwks({})).keys.map((k) => k.kid), [newKid, oldKid]);
    // A token signed by the retired key still verifies.
    assert.equal((await tb.client.getMe({}, as(before.access))).user?.id, admin.id);
    const after = await tb.login(admin.email, admin.password);
    assert.equal(
      JSON.parse(new TextDecoder().decode(base64url.decode(after.access.split(".")[0]))).kid,
      newKid,
    );

    // Past every token's lifetime (plus skew and cache) the old key is no longer published.
    tb.clock.advance((tb.config.accessTtlSeconds + tb.config.clockSkewSeconds) * 1000 + 60_000);
    assert.deepEqual((await tb.client.getJwks({})).keys.map((k) => k.kid), [newKid]);
    const audit = await tb.db.sql`select actor from audit_log where action = 'auth.signing_key.rotate'`;
    assert.deepEqual(audit.map((r) => r.actor), [`user:${admin.id}`]);
  } finally {
    await tb.close();
  }
});

Deno.test("a service elsewhere verifies from the JWKS over HTTP, and picks up a rotated key", async () => {
  const tb = await createAuthTestbed();
  const server = createServer(jwksNodeHandler(tb.runtime.keys));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const verify = createTokenVerifier({
      keys: remoteJwks({
        url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        clock: tb.clock,
        cacheSeconds: 300,
      }),
      issuer: tb.config.issuer,
      audience: tb.config.audience,
      clock: tb.clock,
      accessTtlSeconds: tb.config.accessTtlSeconds,
      clockSkewSeconds: tb.config.clockSkewSeconds,
    });
    const user = await tb.createUser("viewer");
    const first = await tb.login(user.email, user.password);
    assert.equal((await verify(first.access)).role, "viewer");

    await tb.runtime.keys.rotate();
    const second = await tb.login(user.email, user.password);
    // The new kid is unknown to the cache; a refetch is allowed once the minimum interval has passed.
    tb.clock.advance(10_000);
    assert.equal((await verify(second.access)).userId, user.id);
    assert.equal((await verify(first.access)).userId, user.id);

    const res = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
    assert.equal(res.headers.get("content-type"), "application/jwk-set+json");
    const body = await res.json();
    assert.equal(body.keys.length, 2);
    assert.ok(body.keys.every((k: Record<string, unknown>) => k.d === undefined && k.kty === "OKP"));
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await tb.close();
  }
});

Deno.test("private signing keys are encrypted at rest when a secret is set, and never leave the store", async () => {
  const secret = "s".repeat(40);
  const tb = await createAuthTestbed({ env: { TASKMESH_AUTH_KEY_SECRET: secret } });
  try {
    const user = await tb.createUser("member");
    await tb.login(user.email, user.password);
    const [row] = await tb.db.sql`select private_key, private_key_encrypted from signing_keys`;
    assert.equal(row.private_key_encrypted, true);
    assert.doesNotMatch(row.private_key, /"d"/);
    const jwks = await tb.client.getJwks({});
    assert.ok(jwks.keys.every((k) => Object.keys(k).every((f) => f !== "d")));
    // The key in memory cannot be exported either.
    const key = await tb.runtime.keys.currentKey();
    assert.equal(key.privateKey.extractable, false);
  } finally {
    await tb.close();
  }
});

Deno.test("an access token for a signed-in user carries kid, iss, aud, sub, role and scopes, and lives at most 15 minutes", async () => {
  const tb = await createAuthTestbed();
  try {
    const user = await tb.createUser("operator");
    const res = await tb.client.login({ email: user.email, password: user.password });
    const [h, p] = res.tokens!.accessToken.split(".").slice(0, 2).map((part) =>
      JSON.parse(new TextDecoder().decode(base64url.decode(part)))
    );
    assert.equal(h.alg, "EdDSA");
    assert.equal(h.typ, "at+jwt");
    assert.equal(typeof h.kid, "string");
    assert.equal(p.iss, "taskmesh");
    assert.equal(p.aud, "taskmesh");
    assert.equal(p.sub, user.id);
    assert.equal(p.role, "operator");
    assert.ok(p.scopes.includes("tasks:enqueue"));
    assert.ok(p.exp - p.iat <= 900);
    const key = await tb.runtime.keys.currentKey();
    const other = await signAccessToken(key, { userId: user.id, role: "operator", scopes: [] }, {
      issuer: "x",
      audience: "taskmesh",
      ttlSeconds: 60,
      now: tb.clock.now(),
    });
    await refused(tb, other.token);
  } finally {
    await tb.close();
  }
});

Deno.test("with the JWKS unreachable and no keys cached, verification says so instead of blaming the token", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const tb = await createAuthTestbed();
  try {
    const verify = createTokenVerifier({
      keys: remoteJwks({
        url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        clock: tb.clock,
        cacheSeconds: 300,
      }),
      issuer: tb.config.issuer,
      audience: tb.config.audience,
      clock: tb.clock,
      accessTtlSeconds: tb.config.accessTtlSeconds,
      clockSkewSeconds: 0,
    });
    const user = await tb.createUser("member");
    const { access } = await tb.login(user.email, user.password);
    await assert.rejects(verify(access), KeysUnavailableError);
  } finally {
    await tb.close();
  }
});
