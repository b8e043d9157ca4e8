/**
 * Signed unsubscribe tokens: HMAC-SHA256 over the address and an expiry, with a key made
 * once per deployment and kept in Postgres (campaign_secrets), so every instance signs
 * and checks alike and no operator has to configure one. A token names an address only
 * inside the signed part; a refusal (bad signature, expired, malformed) is one answer
 * whatever the address, so it tells nothing about who is a member.
 */
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import type { Sql } from "../db/postgres.ts";

/** How long a link in a mail works: long enough for a mail read late. */
export const TOKEN_TTL_MS = 180 * 24 * 3600_000;
const MAX_TOKEN_CHARS = 1024;

const encoder = new TextEncoder();

function fromB64url(text: string): Uint8Array {
  const s = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(s + "=".repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0));
}

export interface UnsubscribeSigner {
  sign(email: string, now: number): Promise<string>;
  /** The address (lower case) of a good token, or undefined for any refusal. */
  verify(token: string, now: number): Promise<string | undefined>;
}

/** The key twice: raw bytes for signing (node:crypto, synchronous: a campaign signs every mail) and for checking. */
interface Keys {
  raw: Uint8Array;
  key: CryptoKey;
}

async function loadKey(sql: Sql): Promise<Keys> {
  const fresh = crypto.getRandomValues(new Uint8Array(32));
  await sql`
    insert into campaign_secrets (name, secret, created_at) values ('unsubscribe', ${fresh}, now())
    on conflict (name) do nothing`;
  const [row] = await sql<
    { secret: Uint8Array }[]
  >`select secret from campaign_secrets where name = 'unsubscribe'`;
  const raw = new Uint8Array(row.secret);
  const key = await crypto.subtle.importKey(
    "raw",
    raw,
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
      "verify",
    ],
  );
  return { raw, key };
}

export function createUnsubscribeSigner(sql: Sql): UnsubscribeSigner {
  let key: Promise<Keys> | undefined;
  const keyOf = () =>
    key ??= loadKey(sql).catch((error) => {
      key = undefined;
      throw error;
    });
  return {
    async sign(email, now) {
      // Encoded by node:buffer and node:crypto directly: signing runs once a mail.
      const body = Buffer.from(JSON.stringify({ e: email.toLowerCase(), x: now + TOKEN_TTL_MS })).toString(
        "base64url",
      );
      const sig = createHmac("sha256", (await keyOf()).raw).update(body).digest("base64url");
      return `${body}.${sig}`;
    },
    async verify(token, now) {
      if (token.length > MAX_TOKEN_CHARS || !/^[\w-]+\.[\w-]+$/.test(token)) return undefined;
      const [body, sig] = token.split(".");
      let ok: boolean;
      try {
        ok = await crypto.subtle.verify(
          "HMAC",
          (await keyOf()).key,
          new Uint8Array(fromB64url(sig)),
          encoder.encode(body),
        );
      } catch (error) {
        if (error instanceof DOMException) return undefined;
        throw error;
      }
      if (!ok) return undefined;
      try {
        const { e, x } = JSON.parse(new TextDecoder().decode(fromB64url(body)));
        return typeof e === "string" && typeof x === "number" && x > now ? e : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
