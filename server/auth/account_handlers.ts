/**
 * Accounts and the mails that prove who owns them: Register, VerifyEmail,
 * ResendVerification, RequestPasswordReset, ResetPassword.
 *
 * Register answers a taken email exactly as a new one (and mails the owner instead);
 * resend and reset answer before doing anything that depends on whether the email
 * exists (the lookup, the token, the mail run in the background), so neither the
 * answer nor its timing tells an attacker which emails have accounts.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { enforceRateLimits } from "../ratelimit/limiter.ts";
import { userToProto } from "./convert.ts";
import { consumeEmailToken, issueEmailToken } from "./email_tokens.ts";
import { audit, callFacts, emailKey } from "./handler_support.ts";
import { existingAccountMail, resetMail, verificationMail } from "./mails.ts";
import { hashPassword, passwordProblem } from "./passwords.ts";
import { type AuthRuntime, sendAuthMail } from "./runtime.ts";
import { revokeUserRefreshFamilies } from "./session_queries.ts";
import {
  findUserByEmail,
  findUserById,
  insertUser,
  markEmailVerified,
  setPassword,
  type UserRow,
} from "./user_queries.ts";
import { invalidArgument, requireEmail, requireName, requireNonEmpty } from "./validate.ts";

type Handlers = Pick<
  ServiceImpl<typeof AuthService>,
  "register" | "verifyEmail" | "resendVerification" | "requestPasswordReset" | "resetPassword"
>;

const TOKEN_PROBLEMS = {
  unknown: "is not valid",
  expired: "has expired",
  used: "has already been used",
} as const;

/** What Register answers for a taken email: the same shape as a new, unverified member. */
function unsavedMember(
  id: string,
  email: string,
  displayName: string,
  now: Date,
): Omit<UserRow, "password_hash"> {
  return {
    id,
    email,
    display_name: displayName,
    role: "member",
    email_verified_at: null,
    disabled_at: null,
    created_at: now,
    last_login_at: null,
    password_change_required: false,
    one_time_password_at: null,
  };
}

export function accountHandlers(runtime: AuthRuntime): Handlers {
  const { sql, clock, auth, publicUrl } = runtime.options;

  const sendVerification = async (user: { id: string; email: string; display_name: string }) => {
    const token = await issueEmailToken(
      sql,
      user.id,
      "verify_email",
      clock.now(),
      auth.verificationTtlSeconds,
    );
    const hours = Math.round(auth.verificationTtlSeconds / 3600);
    await sendAuthMail(runtime, verificationMail(publicUrl, user.email, user.display_name, token, hours));
  };

  return {
    async register(req, ctx) {
      const facts = callFacts(ctx);
      const email = requireEmail(req.email);
      const displayName = requireName(req.displayName, "display_name");
      const problem = passwordProblem(req.password, email);
      if (problem) throw invalidArgument("password", problem);
      // Before hashing: argon2 is the expensive part a flood would aim at.
      await enforceRateLimits(runtime.limiter, "registrations", [
        { bucket: "register_ip", id: facts.ip, rule: auth.rateLimits.registerIp },
      ]);

      // Hashed whether or not the email is taken, so the answer takes the same time either way.
      const passwordHash = await hashPassword(req.password);
      const now = clock.now();
      const id = crypto.randomUUID();
      const user = await sql.begin(async (tx) => {
        const user = await insertUser(tx, {
          id,
          email,
          displayName,
          passwordHash,
          role: "member",
          verifiedAt: null,
          now: new Date(now),
        });
        await audit(runtime, tx, facts, {
          action: user ? "auth.register" : "auth.register.existing_email",
          target: user ? `user:${user.id}` : undefined,
          details: { ip: facts.ip },
        });
        return user;
      });
      if (!user) {
        // The owner hears of it; the caller gets the answer a new account gets, so no email is confirmed taken.
        runtime.background("existing account mail", async () => {
          const owner = await findUserByEmail(sql, email);
          if (owner && !owner.disabled_at) {
            await sendAuthMail(runtime, existingAccountMail(publicUrl, owner.email, owner.display_name));
          }
        });
        return { user: userToProto(unsavedMember(id, email, displayName, new Date(now))) };
      }
      runtime.background("verification mail", () => sendVerification(user));
      return { user: userToProto(user) };
    },

    async verifyEmail(req, ctx) {
      const facts = callFacts(ctx);
      const token = requireNonEmpty(req.token.trim(), "token", "paste the code from the verification mail");
      const outcome = await consumeEmailToken(sql, token, "verify_email", clock.now(), async (tx, userId) => {
        const user = await markEmailVerified(tx, userId, new Date(clock.now()));
        await audit(runtime, tx, facts, {
          action: "auth.email_verified",
          actor: `user:${userId}`,
          target: `user:${userId}`,
        });
        return user;
      });
      if (!outcome.ok) {
        throw new ConnectError(
          `verification token ${TOKEN_PROBLEMS[outcome.reason]}: ask for a new verification mail`,
          Code.FailedPrecondition,
        );
      }
      return { user: userToProto(outcome.value) };
    },

    async resendVerification(req) {
      const email = requireEmail(req.email);
      await enforceRateLimits(runtime.limiter, "verification mails for this email", [
        { bucket: "resend_email", id: emailKey(email), rule: auth.rateLimits.resendEmail },
      ]);
      runtime.background("verification mail", async () => {
        const user = await findUserByEmail(sql, email);
        if (user && !user.email_verified_at && !user.disabled_at) await sendVerification(user);
      });
      return {};
    },

    async requestPasswordReset(req, ctx) {
      const facts = callFacts(ctx);
      const email = requireEmail(req.email);
      await enforceRateLimits(runtime.limiter, "reset mails for this email", [
        { bucket: "reset_email", id: emailKey(email), rule: auth.rateLimits.resetEmail },
      ]);
      runtime.background("password reset mail", async () => {
        const user = await findUserByEmail(sql, email);
        if (!user || user.disabled_at) return;
        const token = await issueEmailToken(
          sql,
          user.id,
          "reset_password",
          clock.now(),
          auth.resetTtlSeconds,
        );
        await audit(runtime, sql, facts, {
          action: "auth.password_reset.request",
          target: `user:${user.id}`,
          details: { ip: facts.ip },
        });
        const minutes = Math.round(auth.resetTtlSeconds / 60);
        await sendAuthMail(runtime, resetMail(publicUrl, user.email, user.display_name, token, minutes));
      });
      return {};
    },

    async resetPassword(req, ctx) {
      const facts = callFacts(ctx);
      const token = requireNonEmpty(req.token.trim(), "token", "paste the code from the reset mail");
      // The rules that need no account first, so a weak password never costs a token.
      const early = passwordProblem(req.newPassword, "");
      if (early) throw invalidArgument("new_password", early);
      const passwordHash = await hashPassword(req.newPassword);
      const now = clock.now();
      let resetUser: string | undefined;

      const outcome = await consumeEmailToken(sql, token, "reset_password", now, async (tx, userId) => {
        resetUser = userId;
        const user = await findUserById(tx, userId);
        if (!user) throw new ConnectError("this account no longer exists: register again", Code.NotFound);
        if (user.disabled_at) {
          throw new ConnectError("this account is disabled: contact an administrator", Code.PermissionDenied);
        }
        // Throwing rolls the transaction back: the token stays usable for a better password.
        const problem = passwordProblem(req.newPassword, user.email);
        if (problem) throw invalidArgument("new_password", problem);
        // A password the user chose: a required change (the first admin's) is done with it.
        await setPassword(tx, userId, passwordHash);
        // Receiving the mail proves the address, as a verification mail would.
        await markEmailVerified(tx, userId, new Date(now));
        const sessions = await revokeUserRefreshFamilies(tx, userId, "password_reset", new Date(now));
        await audit(runtime, tx, facts, {
          action: "auth.password_reset",
          actor: `user:${userId}`,
          target: `user:${userId}`,
          details: { sessions_revoked: sessions, ip: facts.ip },
        });
      });
      if (!outcome.ok) {
        throw new ConnectError(
          `reset token ${TOKEN_PROBLEMS[outcome.reason]}: ask for a new reset mail`,
          Code.FailedPrecondition,
        );
      }
      // Committed: every session was signed out, so the streams of their tokens end too.
      if (resetUser) await runtime.revoked({ kind: "sessions", userId: resetUser });
      return {};
    },
  };
}
