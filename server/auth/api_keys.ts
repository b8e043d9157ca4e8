/**
 * API keys for services and workers: `tmk_` + 32 random bytes, stored as SHA-256,
 * shown once. Checked against Postgres on every call so a revocation takes effect at
 * once; the last-used time is written at most once a minute per key.
 */
import type { Sql } from "../db/postgres.ts";
import type { Clock } from "../clock.ts";
import { grantableScopes } from "../authz/scopes.ts";
import type { Caller } from "./caller.ts";
import { findApiKeyBySecretHash, touchApiKey } from "./api_key_queries.ts";
import { randomToken, sha256 } from "./secrets.ts";

export const API_KEY_PREFIX = "tmk_";
/** How much of the secret lists show: the prefix and four characters, too few to matter. */
export const API_KEY_SHOWN_LENGTH = API_KEY_PREFIX.length + 4;
const TOUCH_INTERVAL_MS = 60_000;

export type ApiKeyCaller = Extract<Caller, { kind: "api_key" }>;

export async function newApiKeySecret(): Promise<{ secret: string; prefix: string; hash: Uint8Array }> {
  const secret = randomToken(32, API_KEY_PREFIX);
  return { secret, prefix: secret.slice(0, API_KEY_SHOWN_LENGTH), hash: await sha256(secret) };
}

export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

export type ApiKeyAuthenticator = (secret: string) => Promise<ApiKeyCaller | undefined>;

export function createApiKeyAuthenticator(options: { sql: Sql; clock: Clock }): ApiKeyAuthenticator {
  const { sql, clock } = options;
  // Per process, so most calls skip even the conditional UPDATE.
  const touched = new Map<string, number>();
  return async (secret) => {
    // A well-formed secret has a fixed length; anything else is not worth a query.
    if (!looksLikeApiKey(secret) || secret.length !== API_KEY_PREFIX.length + 43) return undefined;
    const row = await findApiKeyBySecretHash(sql, await sha256(secret));
    const now = clock.now();
    if (!row || row.revoked_at || row.owner_disabled_at) return undefined;
    if (row.expires_at && now >= row.expires_at.getTime()) return undefined;

    if (now - (touched.get(row.id) ?? Number.NEGATIVE_INFINITY) >= TOUCH_INTERVAL_MS) {
      touched.set(row.id, now);
      if (touched.size > 10_000) touched.delete(touched.keys().next().value!);
      await touchApiKey(sql, row.id, new Date(now), new Date(now - TOUCH_INTERVAL_MS));
    }

    // A key never does more than its owner could grant today: demoting a user narrows their keys.
    const allowed = grantableScopes(row.owner_role) as readonly string[];
    return {
      kind: "api_key",
      keyId: row.id,
      ownerId: row.owner_id,
      scopes: row.scopes.filter((s) => allowed.includes(s)),
    };
  };
}
