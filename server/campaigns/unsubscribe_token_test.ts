import assert from "node:assert/strict";
import { createTestDatabase } from "../db/testing.ts";
import { createUnsubscribeSigner, TOKEN_TTL_MS } from "./unsubscribe_token.ts";

/** base64url without padding, written out the long way (what tokens already in mailboxes use). */
function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

Deno.test("a token is base64url(JSON).base64url(HMAC-SHA256), byte for byte, and checks out", async () => {
  const db = await createTestDatabase();
  try {
    const signer = createUnsubscribeSigner(db.sql);
    const now = Date.parse("2026-12-04T00:00:00Z");
    // An address whose JSON encodes to bytes that need "-" and "_" in base64url.
    const email = "Zoë.Ünïcödé+news?>>@Example.test";
    const token = await signer.sign(email, now);
    const [{ secret }] = await db.sql<{ secret: Uint8Array }[]>`
      select secret from campaign_secrets where name = 'unsubscribe'`;
    const body = b64url(
      new TextEncoder().encode(JSON.stringify({ e: email.toLowerCase(), x: now + TOKEN_TTL_MS })),
    );
    const key = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      [
        "sign",
      ],
    );
    const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    assert.equal(token, `${body}.${b64url(sig)}`);
    assert.equal(await signer.verify(token, now), email.toLowerCase());
    assert.equal(await signer.verify(token, now + TOKEN_TTL_MS), undefined, "expired");
    assert.equal(await signer.verify(`${body}.${b64url(sig.map((b) => b ^ 1))}`, now), undefined, "forged");
  } finally {
    await db.drop();
  }
});
