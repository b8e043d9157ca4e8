/**
 * SQL for sessions: refresh-token families and the tokens rotated within them.
 */
import type { Db } from "./user_queries.ts";

export type RevokeReason =
  | "logout"
  | "logout_all"
  | "reuse"
  | "password_reset"
  | "password_change"
  | "user_disabled";

export interface RefreshTokenRow {
  id: string;
  family_id: string;
  user_id: string;
  expires_at: Date;
  rotated_at: Date | null;
  replaced_by: string | null;
  grace_used: boolean;
  family_absolute_expires_at: Date;
  family_revoked_at: Date | null;
  /** Whether the token that replaced this one has itself been rotated (then this is not the previous token). */
  replacement_rotated: boolean;
}

export async function insertRefreshFamily(db: Db, family: {
  id: string;
  userId: string;
  now: Date;
  absoluteExpiresAt: Date;
}): Promise<void> {
  await db`
    insert into refresh_families (id, user_id, created_at, absolute_expires_at)
    values (${family.id}, ${family.userId}, ${family.now}, ${family.absoluteExpiresAt})`;
}

export async function insertRefreshToken(db: Db, token: {
  id: string;
  familyId: string;
  tokenHash: Uint8Array;
  now: Date;
  expiresAt: Date;
}): Promise<void> {
  await db`
    insert into refresh_tokens (id, family_id, token_hash, created_at, expires_at)
    values (${token.id}, ${token.familyId}, ${token.tokenHash}, ${token.now}, ${token.expiresAt})`;
}

/**
 * The token with this hash and its family, with the family row locked: concurrent
 * refreshes of one session take turns, so rotation and reuse detection see each other.
 */
export async function findRefreshTokenForUpdate(
  db: Db,
  tokenHash: Uint8Array,
): Promise<RefreshTokenRow | undefined> {
  const [row] = await db<RefreshTokenRow[]>`
    select t.id, t.family_id, f.user_id, t.expires_at, t.rotated_at, t.replaced_by, t.grace_used,
           f.absolute_expires_at as family_absolute_expires_at, f.revoked_at as family_revoked_at,
           coalesce(r.rotated_at is not null, false) as replacement_rotated
    from refresh_tokens t
    join refresh_families f on f.id = t.family_id
    left join refresh_tokens r on r.id = t.replaced_by
    where t.token_hash = ${tokenHash}
    for update of f`;
  return row;
}

export async function markRefreshTokenRotated(
  db: Db,
  id: string,
  replacedBy: string,
  now: Date,
): Promise<void> {
  await db`update refresh_tokens set rotated_at = ${now}, replaced_by = ${replacedBy} where id = ${id}`;
}

export async function markRefreshGraceUsed(db: Db, id: string): Promise<void> {
  await db`update refresh_tokens set grace_used = true where id = ${id}`;
}

export async function revokeRefreshFamily(
  db: Db,
  familyId: string,
  reason: RevokeReason,
  now: Date,
): Promise<void> {
  await db`
    update refresh_families set revoked_at = ${now}, revoke_reason = ${reason}
    where id = ${familyId} and revoked_at is null`;
}

/** Revokes every live session of a user; returns how many there were. */
export async function revokeUserRefreshFamilies(
  db: Db,
  userId: string,
  reason: RevokeReason,
  now: Date,
): Promise<number> {
  return (await revokeUserRefreshFamilyIds(db, userId, reason, now)).length;
}

/** Revokes every live session of a user; returns their family ids (to announce on the revocation bus). */
export async function revokeUserRefreshFamilyIds(
  db: Db,
  userId: string,
  reason: RevokeReason,
  now: Date,
): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    update refresh_families set revoked_at = ${now}, revoke_reason = ${reason}
    where user_id = ${userId} and revoked_at is null
    returning id`;
  return rows.map((r) => r.id);
}
