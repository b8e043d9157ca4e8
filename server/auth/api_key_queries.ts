/**
 * SQL for API keys.
 */
import type { Role } from "./caller.ts";
import type { Db } from "./user_queries.ts";

export interface ApiKeyRow {
  id: string;
  owner_id: string;
  name: string;
  scopes: string[];
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** A key with what authentication needs to know about its owner. */
export interface ApiKeyWithOwnerRow extends ApiKeyRow {
  owner_role: Role;
  owner_disabled_at: Date | null;
}

export async function insertApiKey(db: Db, key: {
  id: string;
  ownerId: string;
  name: string;
  scopes: string[];
  prefix: string;
  secretHash: Uint8Array;
  now: Date;
  expiresAt: Date | null;
}): Promise<ApiKeyRow> {
  const [row] = await db<ApiKeyRow[]>`
    insert into api_keys (id, owner_id, name, scopes, prefix, secret_hash, created_at, expires_at)
    values (${key.id}, ${key.ownerId}, ${key.name}, ${key.scopes}, ${key.prefix}, ${key.secretHash},
            ${key.now}, ${key.expiresAt})
    returning id, owner_id, name, scopes, prefix, created_at, expires_at, last_used_at, revoked_at`;
  return row;
}

export async function findApiKeyBySecretHash(
  db: Db,
  secretHash: Uint8Array,
): Promise<ApiKeyWithOwnerRow | undefined> {
  const [row] = await db<ApiKeyWithOwnerRow[]>`
    select k.id, k.owner_id, k.name, k.scopes, k.prefix, k.created_at, k.expires_at, k.last_used_at,
           k.revoked_at, u.role as owner_role, u.disabled_at as owner_disabled_at
    from api_keys k join users u on u.id = k.owner_id
    where k.secret_hash = ${secretHash}`;
  return row;
}

export async function findApiKeyById(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db<
    ApiKeyRow[]
  >`select id, owner_id, name, scopes, prefix, created_at, expires_at, last_used_at, revoked_at from api_keys where id = ${id}`;
  return row;
}

/** Records use, skipping the write when the stored time is recent enough: most calls change nothing. */
export async function touchApiKey(db: Db, id: string, now: Date, notBefore: Date): Promise<void> {
  await db`
    update api_keys set last_used_at = ${now}
    where id = ${id} and (last_used_at is null or last_used_at < ${notBefore})`;
}

/** One page, newest first, of one owner's keys or (ownerId undefined) everyone's. */
export function listApiKeys(db: Db, filter: {
  ownerId?: string;
  includeRevoked: boolean;
  after?: { createdAt: Date; id: string };
  limit: number;
}): Promise<ApiKeyRow[]> {
  return db<ApiKeyRow[]>`
    select id, owner_id, name, scopes, prefix, created_at, expires_at, last_used_at, revoked_at from api_keys
    where true
      ${filter.ownerId ? db`and owner_id = ${filter.ownerId}` : db``}
      ${filter.includeRevoked ? db`` : db`and revoked_at is null`}
      ${filter.after ? db`and (created_at, id) < (${filter.after.createdAt}, ${filter.after.id})` : db``}
    order by created_at desc, id desc
    limit ${filter.limit}`;
}

export async function revokeApiKey(db: Db, id: string, now: Date): Promise<ApiKeyRow | undefined> {
  const [row] = await db<ApiKeyRow[]>`
    update api_keys set revoked_at = coalesce(revoked_at, ${now}) where id = ${id}
    returning id, owner_id, name, scopes, prefix, created_at, expires_at, last_used_at, revoked_at`;
  return row;
}

export async function revokeOwnerApiKeys(db: Db, ownerId: string, now: Date): Promise<number> {
  const rows = await db`
    update api_keys set revoked_at = ${now} where owner_id = ${ownerId} and revoked_at is null returning id`;
  return rows.length;
}
