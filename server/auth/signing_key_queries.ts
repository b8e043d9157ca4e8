/**
 * SQL for the keys that sign access tokens.
 */
import type { JWK } from "jose";
import type { Db } from "./user_queries.ts";

export interface SigningKeyRow {
  kid: string;
  algorithm: string;
  public_jwk: JWK;
  private_key: string;
  private_key_encrypted: boolean;
  created_at: Date;
  retired_at: Date | null;
  publish_until: Date | null;
}

/**
 * Serialises key creation and rotation across instances; the lock is per schema's
 * table, so parallel test schemas do not wait on each other. Held until the transaction ends.
 */
export async function lockSigningKeys(db: Db): Promise<void> {
  await db`lock table signing_keys in share row exclusive mode`;
}

export async function findCurrentSigningKey(db: Db): Promise<SigningKeyRow | undefined> {
  const [row] = await db<SigningKeyRow[]>`
    select * from signing_keys where retired_at is null order by created_at desc limit 1`;
  return row;
}

/** The keys a valid token may be signed with: the current ones and the retired ones still inside their window. */
export function listPublishedSigningKeys(
  db: Db,
  now: Date,
): Promise<Pick<SigningKeyRow, "kid" | "public_jwk">[]> {
  return db<Pick<SigningKeyRow, "kid" | "public_jwk">[]>`
    select kid, public_jwk from signing_keys
    where retired_at is null or publish_until > ${now}
    order by retired_at is null desc, created_at desc, kid`;
}

export async function insertSigningKey(db: Db, key: {
  kid: string;
  algorithm: string;
  publicJwk: JWK;
  privateKey: string;
  encrypted: boolean;
  now: Date;
}): Promise<void> {
  await db`
    insert into signing_keys (kid, algorithm, public_jwk, private_key, private_key_encrypted, created_at)
    values (${key.kid}, ${key.algorithm}, ${
    db.json(key.publicJwk as Record<string, string>)
  }, ${key.privateKey},
            ${key.encrypted}, ${key.now})`;
}

/** Stops every current key from signing; they stay published until `publishUntil`. */
export async function retireSigningKeys(db: Db, now: Date, publishUntil: Date): Promise<void> {
  await db`
    update signing_keys set retired_at = ${now}, publish_until = ${publishUntil} where retired_at is null`;
}
