/**
 * SQL for accounts and the one-time tokens mailed to them (verification, reset).
 */
import type postgres from "postgres";
import type { Role } from "./caller.ts";

/** A pool or a transaction: every query here runs on either. */
export type Db = postgres.ISql;

export interface UserRow {
  id: string;
  email: string;
  display_name: string;
  password_hash: string;
  role: Role;
  email_verified_at: Date | null;
  disabled_at: Date | null;
  created_at: Date;
  last_login_at: Date | null;
  /** Set for a password someone else chose (the first admin's): ChangePassword must come first. */
  password_change_required: boolean;
  /** When a start printed the one-time password this user still has, if any. */
  one_time_password_at: Date | null;
}

export type EmailTokenPurpose = "verify_email" | "reset_password";

export interface EmailTokenRow {
  id: string;
  user_id: string;
  purpose: EmailTokenPurpose;
  expires_at: Date;
  used_at: Date | null;
}

/** The new row, or undefined when the email is taken (any case). */
export async function insertUser(db: Db, user: {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string;
  role: Role;
  verifiedAt: Date | null;
  now: Date;
  /** A one-time password (printed by a start): the user must change it first. */
  oneTimePassword?: boolean;
}): Promise<UserRow | undefined> {
  const oneTime = user.oneTimePassword ?? false;
  const [row] = await db<UserRow[]>`
    insert into users (id, email, display_name, password_hash, role, email_verified_at, created_at,
                       password_change_required, one_time_password_at)
    values (${user.id}, ${user.email}, ${user.displayName}, ${user.passwordHash}, ${user.role},
            ${user.verifiedAt}, ${user.now}, ${oneTime}, ${oneTime ? user.now : null})
    on conflict do nothing
    returning *`;
  return row;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`select * from users where lower(email) = lower(${email})`;
  return row;
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`select * from users where id = ${id}`;
  return row;
}

export async function countUsers(db: Db): Promise<number> {
  const [{ count }] = await db<{ count: number }[]>`select count(*)::int as count from users`;
  return count;
}

/**
 * The admin a start created with a one-time password that nobody has used: still to be
 * changed, never signed in, not disabled. There is at most one (only an empty database gets one).
 */
export async function findUnusedFirstAdmin(db: Db): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`
    select * from users
    where role = 'admin' and password_change_required and last_login_at is null and disabled_at is null
    order by created_at limit 1`;
  return row;
}

/** Replaces a one-time password with another; the change stays required. */
export async function replaceOneTimePassword(
  db: Db,
  id: string,
  passwordHash: string,
  now: Date,
): Promise<void> {
  await db`
    update users set password_hash = ${passwordHash}, password_change_required = true,
                     one_time_password_at = ${now}
    where id = ${id}`;
}

/**
 * Admins who can still sign in, with their rows locked: two admins demoting each other
 * at once take turns, and the second sees the first's change, so one admin always remains.
 */
export async function lockActiveAdmins(db: Db): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    select id from users where role = 'admin' and disabled_at is null order by id for update`;
  return rows.map((r) => r.id);
}

/** Locks the user row until the transaction ends, so role and disable checks see a settled state. */
export async function findUserByIdForUpdate(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`select * from users where id = ${id} for update`;
  return row;
}

export async function updatePasswordHash(db: Db, id: string, passwordHash: string): Promise<void> {
  await db`update users set password_hash = ${passwordHash} where id = ${id}`;
}

/** Sets a password the user chose themselves, which ends a required change; returns the updated row. */
export async function setPassword(db: Db, id: string, passwordHash: string): Promise<UserRow> {
  const [row] = await db<UserRow[]>`
    update users set password_hash = ${passwordHash}, password_change_required = false,
                     one_time_password_at = null
    where id = ${id} returning *`;
  return row;
}

export async function recordLogin(db: Db, id: string, now: Date): Promise<UserRow> {
  const [row] = await db<UserRow[]>`update users set last_login_at = ${now} where id = ${id} returning *`;
  return row;
}

export async function markEmailVerified(db: Db, id: string, now: Date): Promise<UserRow> {
  const [row] = await db<UserRow[]>`
    update users set email_verified_at = coalesce(email_verified_at, ${now}) where id = ${id} returning *`;
  return row;
}

export async function updateUserRole(db: Db, id: string, role: Role): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`update users set role = ${role} where id = ${id} returning *`;
  return row;
}

export async function disableUser(
  db: Db,
  id: string,
  reason: string,
  now: Date,
): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`
    update users set disabled_at = coalesce(disabled_at, ${now}), disabled_reason = ${reason}
    where id = ${id} returning *`;
  return row;
}

/** One page in (created_at, id) order, starting after the given position. */
export function listUsers(db: Db, filter: {
  role?: Role;
  emailPrefix?: string;
  after?: { createdAt: Date; id: string };
  limit: number;
}): Promise<UserRow[]> {
  // The prefix is matched literally: % and _ typed by an admin are not wildcards.
  const pattern = filter.emailPrefix
    ? filter.emailPrefix.toLowerCase().replace(/[\\%_]/g, (c) => "\\" + c) + "%"
    : undefined;
  return db<UserRow[]>`
    select * from users
    where true
      ${filter.role ? db`and role = ${filter.role}` : db``}
      ${pattern ? db`and lower(email) like ${pattern}` : db``}
      ${filter.after ? db`and (created_at, id) > (${filter.after.createdAt}, ${filter.after.id})` : db``}
    order by created_at, id
    limit ${filter.limit}`;
}

export async function insertEmailToken(db: Db, token: {
  id: string;
  userId: string;
  purpose: EmailTokenPurpose;
  tokenHash: Uint8Array;
  now: Date;
  expiresAt: Date;
}): Promise<void> {
  await db`
    insert into email_tokens (id, user_id, purpose, token_hash, created_at, expires_at)
    values (${token.id}, ${token.userId}, ${token.purpose}, ${token.tokenHash}, ${token.now}, ${token.expiresAt})`;
}

/** The token with this hash, locked until the transaction ends so two uses cannot both win. */
export async function findEmailTokenForUpdate(
  db: Db,
  tokenHash: Uint8Array,
): Promise<EmailTokenRow | undefined> {
  const [row] = await db<EmailTokenRow[]>`
    select id, user_id, purpose, expires_at, used_at from email_tokens
    where token_hash = ${tokenHash} for update`;
  return row;
}

/** Marks every unused token of the user for this purpose used: one verification or reset ends them all. */
export async function useEmailTokens(
  db: Db,
  userId: string,
  purpose: EmailTokenPurpose,
  now: Date,
): Promise<void> {
  await db`
    update email_tokens set used_at = ${now}
    where user_id = ${userId} and purpose = ${purpose} and used_at is null`;
}
