/**
 * ChangePassword: the signed-in caller replaces their password. It needs the current
 * password (a stolen access token alone must not take the account over), so it is rate
 * limited like Login; it ends every session of the user and hands back a fresh one.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { enforceRateLimits } from "../ratelimit/limiter.ts";
import { requireUser } from "./caller.ts";
import { audit, callFacts, issueTokenPair } from "./handler_support.ts";
import { hashPassword, passwordProblem, verifyPassword } from "./passwords.ts";
import type { AuthRuntime } from "./runtime.ts";
import { revokeUserRefreshFamilyIds } from "./session_queries.ts";
import { startSession } from "./sessions.ts";
import { findUserById, findUserByIdForUpdate, setPassword } from "./user_queries.ts";
import { invalidArgument, requireNonEmpty } from "./validate.ts";

type Handlers = Pick<ServiceImpl<typeof AuthService>, "changePassword">;

export function passwordChangeHandler(runtime: AuthRuntime): Handlers {
  const { sql, clock, auth } = runtime.options;

  return {
    async changePassword(req, ctx) {
      const facts = callFacts(ctx);
      const caller = requireUser(ctx);
      const current = requireNonEmpty(
        req.currentPassword,
        "current_password",
        "give the password you signed in with",
      );
      // Rules that need no account first, so a weak choice costs no guess at the current password.
      const early = passwordProblem(req.newPassword, "");
      if (early) throw invalidArgument("new_password", early);
      // Guessing the current password with a stolen access token is a login attempt by another door.
      await enforceRateLimits(runtime.limiter, "password attempts", [
        { bucket: "login_ip", id: facts.ip, rule: auth.rateLimits.loginIp },
        { bucket: "change_password_user", id: caller.userId, rule: auth.rateLimits.loginIpEmail },
      ]);

      const user = await findUserById(sql, caller.userId);
      if (!user || user.disabled_at) {
        throw new ConnectError(
          "this account no longer exists or is disabled: log in again",
          Code.Unauthenticated,
        );
      }
      if (!await verifyPassword(user.password_hash, current)) {
        await audit(runtime, sql, facts, {
          action: "auth.password_change.failure",
          target: `user:${user.id}`,
          details: { reason: "wrong_password", ip: facts.ip },
        });
        throw new ConnectError(
          "current password is wrong: type the password you signed in with, or reset it by mail",
          Code.PermissionDenied,
        );
      }
      const problem = passwordProblem(req.newPassword, user.email);
      if (problem) throw invalidArgument("new_password", problem);
      if (req.newPassword === current) {
        throw invalidArgument("new_password", "is the current password: choose a different one");
      }
      const passwordHash = await hashPassword(req.newPassword);

      const now = clock.now();
      const { changed, refresh, revoked } = await sql.begin(async (tx) => {
        // Locked, so two changes at once take turns and both revoke what the other started.
        await findUserByIdForUpdate(tx, user.id);
        const changed = await setPassword(tx, user.id, passwordHash);
        const revoked = await revokeUserRefreshFamilyIds(tx, user.id, "password_change", new Date(now));
        const refresh = await startSession(tx, user.id, now, auth);
        await audit(runtime, tx, facts, {
          action: "auth.password_change",
          actor: `user:${user.id}`,
          target: `user:${user.id}`,
          details: { sessions_revoked: revoked.length, ip: facts.ip, session: refresh.familyId },
        });
        return { changed, refresh, revoked };
      });
      // Committed: every instance ends the streams of the ended sessions' access tokens. The ids
      // name them, so the fresh session's first stream is never caught by a late announcement
      // (past a thousand, the message would be too big: all of the user's sessions are named).
      if (revoked.length > 0) {
        await runtime.revoked({
          kind: "sessions",
          userId: user.id,
          ...(revoked.length <= 1000 ? { familyIds: revoked } : {}),
        });
      }
      return { tokens: await issueTokenPair(runtime, changed, refresh) };
    },
  };
}
