/**
 * A token checked while the database that holds the signing keys cannot be reached is
 * not the token's fault: verification says Unavailable, never "invalid token" (which
 * would make clients throw their sessions away).
 */
import assert from "node:assert/strict";
import { systemClock } from "../server/clock.ts";
import { signAccessToken } from "../server/auth/access_tokens.ts";
import { SigningKeyStore } from "../server/auth/signing_keys.ts";
import { createTokenVerifier, KeysUnavailableError } from "../server/authz/token_verifier.ts";
import { connectPostgres } from "../server/db/postgres.ts";
import { createTestDatabase } from "../server/db/testing.ts";
import { createMemoryLogger } from "../server/log.ts";

Deno.test("a valid token met with an unreachable database: keys unavailable, not an invalid token", async () => {
  const db = await createTestDatabase();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const down = connectPostgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1 });
  try {
    const options = {
      clock: systemClock,
      log: createMemoryLogger(),
      accessTtlSeconds: 900,
      clockSkewSeconds: 10,
    };
    const key = await new SigningKeyStore({ sql: db.sql, ...options }).currentKey();
    const { token } = await signAccessToken(key, {
      userId: crypto.randomUUID(),
      role: "operator",
      scopes: [],
    }, {
      issuer: "taskmesh",
      audience: "taskmesh",
      ttlSeconds: 60,
      now: systemClock.now(),
    });
    const verify = (sql: typeof down) =>
      createTokenVerifier({
        keys: new SigningKeyStore({ sql, ...options }),
        issuer: "taskmesh",
        audience: "taskmesh",
        clock: systemClock,
        clockSkewSeconds: 10,
        accessTtlSeconds: 900,
      })(token);
    assert.equal((await verify(db.sql)).role, "operator");
    await assert.rejects(verify(down), KeysUnavailableError);
  } finally {
    await down.end();
    await db.drop();
  }
});
