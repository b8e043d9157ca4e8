/**
 * API keys for services and workers: `tmk_` + 32 random bytes, stored as SHA-256,
 * shown once. A key is verified in Postgres, then kept for a short while in the
 * process's cache (api_key_cache.ts), which the revocation bus empties on every
 * instance, so a revocation still takes effect at once. The last-used time is written
 * at most once a minute per key and process.
 */
import type { Sql } from "../db/postgres.ts";
import type { Clock } from "../clock.ts";
import { grantableScopes } from "../authz/scopes.ts";
import type { VerifiedKeyCache } from "./api_key_cache.ts";
import type { Caller } from "./caller.ts";
import { findApiKeyBySecretHash, touchApiKey } from "./api_key_queries.ts";
import { randomToken, sha256, sha256Sync } from "./secrets.ts";

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

export function createApiKeyAuthenticator(
  options: { sql: Sql; clock: Clock; cache?: VerifiedKeyCache },
): ApiKeyAuthenticator {
  const { sql, clock, cache } = options;
  // Per process, so most calls skip even the conditional UPDATE.
  const touched = new Map<string, number>();
  const touch = async (keyId: string, now: number) => {
    if (now - (touched.get(keyId) ?? Number.NEGATIVE_INFINITY) < TOUCH_INTERVAL_MS) return;
    touched.delete(keyId);
    touched.set(keyId, now);
    if (touched.size > 10_000) touched.delete(touched.keys().next().value!);
    await touchApiKey(sql, keyId, new Date(now), new Date(now - TOUCH_INTERVAL_MS));
  };
  return async (secret) => {
    // A well-formed secret has a fixed length; anything else is not worth a query.
    if (!looksLikeApiKey(secret) || secret.length !== API_KEY_PREFIX.length + 43) return undefined;
    const hash = sha256Sync(secret);
    const cacheKey = cache ? String.fromCharCode(...hash) : "";
    const warm = cache?.get(cacheKey, clock.now());
    if (warm) {
      await touch(warm.keyId, clock.now());
      return warm;
    }
    // Read before the lookup: a revocation heard while it runs keeps its answer out of the cache.
    const epoch = cache?.epoch ?? 0;
    const row = await findApiKeyBySecretHash(sql, hash);
    const now = clock.now();
    if (!row || row.revoked_at || row.owner_disabled_at) return undefined;
    if (row.expires_at && now >= row.expires_at.getTime()) return undefined;
    await touch(row.id, now);

    // A key never does more than its owner could grant today: demoting a user narrows their keys.
    const allowed = grantableScopes(row.owner_role) as readonly string[];
    const caller: ApiKeyCaller = {
      kind: "api_key",
      keyId: row.id,
      ownerId: row.owner_id,
      scopes: row.scopes.filter((s) => allowed.includes(s)),
    };
    cache?.set(cacheKey, caller, row.expires_at?.getTime() ?? null, epoch, now);
    return caller;
  };
}
