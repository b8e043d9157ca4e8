/**
 * The first admin: created with a random one-time password when `deno task start`
 * finds no users at all (the banner prints it once), or by `deno task admin:create`.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import { insertAuditEntry } from "./audit.ts";
import type { AuthConfig } from "./config.ts";
import { hashPassword, passwordProblem } from "./passwords.ts";
import { randomPassword } from "./secrets.ts";
import {
  countUsers,
  type Db,
  findUnusedFirstAdmin,
  insertUser,
  replaceOneTimePassword,
  type UserRow,
} from "./user_queries.ts";
import { requireEmail, requireName } from "./validate.ts";

export const FIRST_ADMIN_EMAIL = "admin@taskmesh.localhost";

/**
 * A start replaces an unused one-time password only when it was printed at least this long
 * ago: instances starting together, or a quick restart, must not void the password the
 * operator is reading right now.
 */
export const ONE_TIME_PASSWORD_MIN_AGE_MS = 60_000;

/** Serialises "is the table empty?" and the insert across instances starting together. */
async function lockUsers(db: Db): Promise<void> {
  await db`lock table users in share row exclusive mode`;
}

/**
 * Creates a verified admin. Fails with AlreadyExists when the email is taken and
 * InvalidArgument when the email, name or password breaks the rules.
 */
export async function createAdmin(
  deps: { sql: Sql; clock: Clock },
  input: { email: string; password: string; displayName?: string },
): Promise<UserRow> {
  const email = requireEmail(input.email);
  const displayName = requireName(input.displayName ?? "Administrator", "display_name");
  const problem = passwordProblem(input.password, email);
  if (problem) throw new ConnectError(`password ${problem}`, Code.InvalidArgument);
  const passwordHash = await hashPassword(input.password);
  const now = new Date(deps.clock.now());
  const user = await deps.sql.begin(async (tx) => {
    const user = await insertUser(tx, {
      id: crypto.randomUUID(),
      email,
      displayName,
      passwordHash,
      role: "admin",
      verifiedAt: now,
      now,
    });
    if (user) {
      await insertAuditEntry(tx, {
        actor: "system",
        action: "auth.user.create_admin",
        target: `user:${user.id}`,
      }, now);
    }
    return user;
  });
  if (!user) {
    throw new ConnectError(
      `${email} is already registered: give that user the admin role with SetRole`,
      Code.AlreadyExists,
    );
  }
  return user;
}

export interface FirstAdminCredentials {
  email: string;
  /** One-time: the admin must change it (ChangePassword) before anything else. */
  password: string;
  /** True when an earlier start created the admin and this start replaced a password nobody used. */
  replaced: boolean;
}

/**
 * Gives the operator a way in, printed once by the start banner:
 * - on a database without any user, creates an admin with a random one-time password;
 * - when an earlier start created that admin but nobody ever signed in with it (the start
 *   died before the banner was read, or the banner was lost), and that start was at least
 *   ONE_TIME_PASSWORD_MIN_AGE_MS ago, replaces its password with a new one-time password,
 *   so the old one, wherever it was printed, is useless;
 * - otherwise returns null.
 * A password is never printed twice: each start that prints one has just made it, and made
 * every earlier one stop working.
 */
export async function ensureFirstAdmin(
  deps: { sql: Sql; clock: Clock; log: Logger; config?: { auth: Pick<AuthConfig, "firstAdminEmail"> } },
): Promise<FirstAdminCredentials | null> {
  const email = requireEmail(
    deps.config?.auth.firstAdminEmail ?? FIRST_ADMIN_EMAIL,
    "TASKMESH_AUTH_FIRST_ADMIN_EMAIL",
  );
  const password = randomPassword(20);
  // Cheap checks first, so a normal start takes no table lock and hashes nothing.
  if (await countUsers(deps.sql) > 0) {
    if (!isReplaceable(await findUnusedFirstAdmin(deps.sql), deps.clock, deps.log)) return null;
    return await replaceUnusedPassword(deps, password);
  }
  const passwordHash = await hashPassword(password);
  const now = new Date(deps.clock.now());
  const created = await deps.sql.begin(async (tx) => {
    await lockUsers(tx);
    if (await countUsers(tx) > 0) return undefined;
    const user = await insertUser(tx, {
      id: crypto.randomUUID(),
      email,
      displayName: "Administrator",
      passwordHash,
      role: "admin",
      verifiedAt: now,
      now,
      oneTimePassword: true,
    });
    await insertAuditEntry(tx, {
      actor: "system",
      action: "auth.user.create_admin",
      target: `user:${user!.id}`,
    }, now);
    return user;
  });
  // Another instance starting at the same moment created it: that one prints the password.
  if (!created) return null;
  deps.log.warn("first admin created with a one-time password: sign in and change it", { email });
  return { email, password, replaced: false };
}

async function replaceUnusedPassword(
  deps: { sql: Sql; clock: Clock; log: Logger },
  password: string,
): Promise<FirstAdminCredentials | null> {
  const passwordHash = await hashPassword(password);
  const now = new Date(deps.clock.now());
  const replaced = await deps.sql.begin(async (tx) => {
    await lockUsers(tx);
    // Checked again under the lock: the operator may have signed in meanwhile.
    const admin = await findUnusedFirstAdmin(tx);
    if (!isReplaceable(admin, deps.clock)) return undefined;
    await replaceOneTimePassword(tx, admin.id, passwordHash, now);
    await insertAuditEntry(tx, {
      actor: "system",
      action: "auth.user.reset_first_admin",
      target: `user:${admin.id}`,
    }, now);
    return admin;
  });
  if (!replaced) return null;
  deps.log.warn(
    "the first admin never signed in: its one-time password was replaced by a new one, printed once below",
    { email: replaced.email },
  );
  return { email: replaced.email, password, replaced: true };
}

function isReplaceable(admin: UserRow | undefined, clock: Clock, log?: Logger): admin is UserRow {
  if (!admin) return false;
  const printedAt = admin.one_time_password_at?.getTime() ?? admin.created_at.getTime();
  if (clock.now() - printedAt >= ONE_TIME_PASSWORD_MIN_AGE_MS) return true;
  log?.warn(
    "the first admin has not signed in yet: its one-time password was printed by a start moments ago; if it is lost, restart in a minute for a new one",
    { email: admin.email, printed_at: new Date(printedAt).toISOString() },
  );
  return false;
}
