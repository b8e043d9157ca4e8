/**
 * Signing in and out: Login, Refresh, Logout, LogoutAll, GetMe.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { enforceRateLimits } from "../ratelimit/limiter.ts";
import { requireUser } from "./caller.ts";
import { userToProto } from "./convert.ts";
import { audit, callFacts, emailKey, issueTokenPair, userScopes } from "./handler_support.ts";
import { dummyPasswordHash, hashPassword, needsRehash, verifyPassword } from "./passwords.ts";
import type { AuthRuntime } from "./runtime.ts";
import { revokeRefreshFamily, revokeUserRefreshFamilies } from "./session_queries.ts";
import { endSession, rotateRefreshToken, startSession } from "./sessions.ts";
import { findUserByEmail, findUserById, recordLogin, updatePasswordHash } from "./user_queries.ts";
import { requireNonEmpty } from "./validate.ts";

type Handlers = Pick<ServiceImpl<typeof AuthService>, "login" | "refresh" | "logout" | "logoutAll" | "getMe">;

const WRONG_CREDENTIALS = "email or password is wrong: check both, or reset the password";
const BAD_REFRESH = "refresh token is not valid: log in again";

export function sessionHandlers(runtime: AuthRuntime): Handlers {
  const { sql, clock, auth, log } = runtime.options;

  return {
    async login(req, ctx) {
      const facts = callFacts(ctx);
      // Only presence is checked: the rules apply when a password is set, not when it is tried.
      const email = requireNonEmpty(req.email.trim(), "email", "give the account's email address");
      const password = requireNonEmpty(req.password, "password", "give the account's password");
      await enforceRateLimits(runtime.limiter, "login attempts", [
        { bucket: "login_ip", id: facts.ip, rule: auth.rateLimits.loginIp },
        {
          bucket: "login_ip_email",
          id: `${facts.ip}|${emailKey(email)}`,
          rule: auth.rateLimits.loginIpEmail,
        },
      ]);

      const user = await findUserByEmail(sql, email);
      // An unknown email still costs one full argon2 verification, so timing tells nothing.
      const passwordOk = await verifyPassword(user?.password_hash ?? await dummyPasswordHash(), password);
      if (!user || !passwordOk) {
        await audit(runtime, sql, facts, {
          action: "auth.login.failure",
          target: user ? `user:${user.id}` : undefined,
          details: { reason: user ? "wrong_password" : "unknown_email", ip: facts.ip },
        });
        throw new ConnectError(WRONG_CREDENTIALS, Code.Unauthenticated);
      }
      // From here on the caller knows the password, so telling them the account's state leaks nothing.
      if (user.disabled_at) {
        await audit(runtime, sql, facts, {
          action: "auth.login.failure",
          target: `user:${user.id}`,
          details: { reason: "disabled", ip: facts.ip },
        });
        throw new ConnectError("this account is disabled: contact an administrator", Code.PermissionDenied);
      }
      if (auth.requireVerifiedEmail && !user.email_verified_at) {
        throw new ConnectError(
          "email address is not verified yet: open the link in the verification mail, or ask for a new one",
          Code.FailedPrecondition,
        );
      }
      if (needsRehash(user.password_hash)) {
        await updatePasswordHash(sql, user.id, await hashPassword(password));
        log.info("password re-hashed with current parameters", { user_id: user.id });
      }

      const now = clock.now();
      const { signedIn, refresh } = await sql.begin(async (tx) => {
        const refresh = await startSession(tx, user.id, now, auth);
        const signedIn = await recordLogin(tx, user.id, new Date(now));
        await audit(runtime, tx, facts, {
          action: "auth.login.success",
          actor: `user:${user.id}`,
          target: `user:${user.id}`,
          details: { ip: facts.ip, session: refresh.familyId },
        });
        return { signedIn, refresh };
      });
      return { tokens: await issueTokenPair(runtime, signedIn, refresh), user: userToProto(signedIn) };
    },

    async refresh(req, ctx) {
      const facts = callFacts(ctx);
      const token = requireNonEmpty(
        req.refreshToken,
        "refresh_token",
        "send the refresh token from Login or Refresh",
      );
      const outcome = await rotateRefreshToken(sql, token, clock.now(), auth);
      if (!outcome.ok) {
        if (outcome.reason === "reuse") {
          // The family is revoked (a stolen token): streams opened with its access tokens end too.
          await runtime.revoked({ kind: "sessions", userId: outcome.userId, familyIds: [outcome.familyId] });
          log.warn("refresh token reused: session revoked", {
            user_id: outcome.userId,
            session: outcome.familyId,
          });
          await audit(runtime, sql, facts, {
            action: "auth.refresh.reuse",
            target: `user:${outcome.userId}`,
            details: { session: outcome.familyId, ip: facts.ip },
          });
        }
        throw new ConnectError(
          outcome.reason === "expired" ? "refresh token has expired: log in again" : BAD_REFRESH,
          Code.Unauthenticated,
        );
      }
      const user = await findUserById(sql, outcome.userId);
      if (!user || user.disabled_at) {
        await revokeRefreshFamily(sql, outcome.refresh.familyId, "user_disabled", new Date(clock.now()));
        throw new ConnectError(BAD_REFRESH, Code.Unauthenticated);
      }
      // The access token carries the role as it is now, so a role change shows at the next refresh.
      return { tokens: await issueTokenPair(runtime, user, outcome.refresh) };
    },

    async logout(req) {
      const token = requireNonEmpty(
        req.refreshToken,
        "refresh_token",
        "send the refresh token of the session to end",
      );
      // Unknown or already-ended sessions answer the same: logging out twice is not an error.
      const ended = await endSession(sql, token, clock.now());
      if (ended) {
        await runtime.revoked({ kind: "sessions", userId: ended.userId, familyIds: [ended.familyId] });
      }
      return {};
    },

    async logoutAll(_req, ctx) {
      const facts = callFacts(ctx);
      const caller = requireUser(ctx);
      const revoked = await sql.begin(async (tx) => {
        const count = await revokeUserRefreshFamilies(tx, caller.userId, "logout_all", new Date(clock.now()));
        await audit(runtime, tx, facts, {
          action: "auth.logout_all",
          target: `user:${caller.userId}`,
          details: { sessions: count },
        });
        return count;
      });
      await runtime.revoked({ kind: "sessions", userId: caller.userId });
      return { revokedSessions: revoked };
    },

    async getMe(_req, ctx) {
      const { caller } = callFacts(ctx);
      if (caller.kind === "api_key") return { apiKeyId: caller.keyId, scopes: [...caller.scopes] };
      const me = requireUser(ctx);
      const user = await findUserById(sql, me.userId);
      if (!user || user.disabled_at) {
        throw new ConnectError(
          "this account no longer exists or is disabled: log in again",
          Code.Unauthenticated,
        );
      }
      return { user: userToProto(user), scopes: userScopes(user) };
    },
  };
}
