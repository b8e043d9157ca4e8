/**
 * One-time tokens sent by mail: email verification (24 h) and password reset (1 h).
 * 32 random bytes, stored as SHA-256, single use; consuming one for a user ends every
 * other unused token of the same purpose.
 */
import type { Sql } from "../db/postgres.ts";
import { randomToken, sha256 } from "./secrets.ts";
import {
  type Db,
  type EmailTokenPurpose,
  findEmailTokenForUpdate,
  insertEmailToken,
  useEmailTokens,
} from "./user_queries.ts";

export async function issueEmailToken(
  db: Db,
  userId: string,
  purpose: EmailTokenPurpose,
  now: number,
  ttlSeconds: number,
): Promise<string> {
  const token = randomToken(32);
  await insertEmailToken(db, {
    id: crypto.randomUUID(),
    userId,
    purpose,
    tokenHash: await sha256(token),
    now: new Date(now),
    expiresAt: new Date(now + ttlSeconds * 1000),
  });
  return token;
}

export type ConsumeOutcome<T> =
  | { ok: true; userId: string; value: T }
  | { ok: false; reason: "unknown" | "expired" | "used" };

/**
 * Consumes a token of the given purpose and, in the same transaction, applies what it
 * authorises (`apply`). A token of another purpose counts as unknown. Nothing changes
 * unless the token is valid.
 */
export function consumeEmailToken<T>(
  sql: Sql,
  token: string,
  purpose: EmailTokenPurpose,
  now: number,
  apply: (tx: Db, userId: string) => Promise<T>,
): Promise<ConsumeOutcome<T>> {
  return sql.begin(async (tx): Promise<ConsumeOutcome<T>> => {
    const row = await findEmailTokenForUpdate(tx, await sha256(token));
    if (!row || row.purpose !== purpose) return { ok: false, reason: "unknown" };
    if (row.used_at) return { ok: false, reason: "used" };
    if (now >= row.expires_at.getTime()) return { ok: false, reason: "expired" };
    await useEmailTokens(tx, row.user_id, purpose, new Date(now));
    return { ok: true, userId: row.user_id, value: await apply(tx, row.user_id) };
  });
}
