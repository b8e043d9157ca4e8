/**
 * Sessions as refresh-token families. Every refresh rotates the token; presenting a
 * token that was already rotated means it leaked (or a client misbehaves), so the
 * whole family is revoked — except once, within a few seconds, for the token rotated
 * just before (two tabs refreshing at the same moment).
 */
import type { Sql } from "../db/postgres.ts";
import { randomToken, sha256 } from "./secrets.ts";
import {
  findRefreshTokenForUpdate,
  insertRefreshFamily,
  insertRefreshToken,
  markRefreshGraceUsed,
  markRefreshTokenRotated,
  revokeRefreshFamily,
} from "./session_queries.ts";
import type { Db } from "./user_queries.ts";

export const REFRESH_TOKEN_PREFIX = "tmr_";

export interface SessionLimits {
  refreshIdleSeconds: number;
  refreshAbsoluteSeconds: number;
  refreshReuseGraceSeconds: number;
}

export interface IssuedRefreshToken {
  token: string;
  familyId: string;
  expiresAt: number;
}

export type RotateOutcome =
  | { ok: true; userId: string; refresh: IssuedRefreshToken; grace: boolean }
  | { ok: false; reason: "unknown" | "revoked" | "expired" }
  | { ok: false; reason: "reuse"; userId: string; familyId: string };

async function issueToken(
  db: Db,
  familyId: string,
  absoluteExpiresAt: number,
  now: number,
  limits: SessionLimits,
): Promise<IssuedRefreshToken & { id: string }> {
  // 32 random bytes: far beyond the 128 bits needed to make guessing hopeless.
  const token = randomToken(32, REFRESH_TOKEN_PREFIX);
  const id = crypto.randomUUID();
  const expiresAt = Math.min(now + limits.refreshIdleSeconds * 1000, absoluteExpiresAt);
  await insertRefreshToken(db, {
    id,
    familyId,
    tokenHash: await sha256(token),
    now: new Date(now),
    expiresAt: new Date(expiresAt),
  });
  return { id, token, familyId, expiresAt };
}

/** Starts a session for a user who just proved who they are. */
export async function startSession(
  db: Db,
  userId: string,
  now: number,
  limits: SessionLimits,
): Promise<IssuedRefreshToken> {
  const familyId = crypto.randomUUID();
  const absoluteExpiresAt = now + limits.refreshAbsoluteSeconds * 1000;
  await insertRefreshFamily(db, {
    id: familyId,
    userId,
    now: new Date(now),
    absoluteExpiresAt: new Date(absoluteExpiresAt),
  });
  const { token, expiresAt } = await issueToken(db, familyId, absoluteExpiresAt, now, limits);
  return { token, familyId, expiresAt };
}

/** Exchanges a refresh token for the next one of its family, or says why not (revoking on reuse). */
export function rotateRefreshToken(
  sql: Sql,
  token: string,
  now: number,
  limits: SessionLimits,
): Promise<RotateOutcome> {
  return sql.begin(async (tx): Promise<RotateOutcome> => {
    const row = await findRefreshTokenForUpdate(tx, await sha256(token));
    if (!row) return { ok: false, reason: "unknown" };
    if (row.family_revoked_at) return { ok: false, reason: "revoked" };
    const absolute = row.family_absolute_expires_at.getTime();
    if (now >= absolute || now >= row.expires_at.getTime()) return { ok: false, reason: "expired" };

    if (row.rotated_at === null) {
      const next = await issueToken(tx, row.family_id, absolute, now, limits);
      await markRefreshTokenRotated(tx, row.id, next.id, new Date(now));
      return { ok: true, userId: row.user_id, refresh: strip(next), grace: false };
    }

    const sinceRotation = now - row.rotated_at.getTime();
    const previousOfCurrent = !row.replacement_rotated;
    if (previousOfCurrent && !row.grace_used && sinceRotation <= limits.refreshReuseGraceSeconds * 1000) {
      // The other tab gets a sibling of the current token; both stay valid and rotate on their own.
      await markRefreshGraceUsed(tx, row.id);
      const sibling = await issueToken(tx, row.family_id, absolute, now, limits);
      return { ok: true, userId: row.user_id, refresh: strip(sibling), grace: true };
    }

    await revokeRefreshFamily(tx, row.family_id, "reuse", new Date(now));
    return { ok: false, reason: "reuse", userId: row.user_id, familyId: row.family_id };
  });
}

/** Ends the session a refresh token belongs to (whatever state the token is in); undefined if unknown. */
export function endSession(
  sql: Sql,
  token: string,
  now: number,
): Promise<{ userId: string; familyId: string } | undefined> {
  return sql.begin(async (tx) => {
    const row = await findRefreshTokenForUpdate(tx, await sha256(token));
    if (!row) return undefined;
    await revokeRefreshFamily(tx, row.family_id, "logout", new Date(now));
    return { userId: row.user_id, familyId: row.family_id };
  });
}

function strip(issued: IssuedRefreshToken & { id: string }): IssuedRefreshToken {
  return { token: issued.token, familyId: issued.familyId, expiresAt: issued.expiresAt };
}
