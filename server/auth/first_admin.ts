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
import { countUsers, type Db, insertUser, type UserRow } from "./user_queries.ts";
import { requireEmail, requireName } from "./validate.ts";

export const FIRST_ADMIN_EMAIL = "admin@taskmesh.localhost";

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

/**
 * On a database without any user, creates an admin with a random password and returns
 * the credentials, once, for the start banner; returns null when there are users already.
 */
export async function ensureFirstAdmin(
  deps: { sql: Sql; clock: Clock; log: Logger; config?: { auth: Pick<AuthConfig, "firstAdminEmail"> } },
): Promise<{ email: string; password: string } | null> {
  const email = requireEmail(
    deps.config?.auth.firstAdminEmail ?? FIRST_ADMIN_EMAIL,
    "TASKMESH_AUTH_FIRST_ADMIN_EMAIL",
  );
  // Cheap check first, so a normal start takes no table lock.
  if (await countUsers(deps.sql) > 0) return null;
  const password = randomPassword(20);
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
    });
    await insertAuditEntry(tx, {
      actor: "system",
      action: "auth.user.create_admin",
      target: `user:${user!.id}`,
    }, now);
    return user;
  });
  if (!created) return null;
  deps.log.warn("first admin created with a one-time password: sign in and change it", { email });
  return { email, password };
}
