/**
 * Small pieces every auth handler uses: who is calling from where, audit rows with
 * the request id, and turning a session into the TokenPair a client receives.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { TokenPair } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { grantableScopes } from "../authz/scopes.ts";
import { remoteAddressKey, requestIdKey } from "../request_context.ts";
import { signAccessToken } from "./access_tokens.ts";
import { type AuditEntry, insertAuditEntry } from "./audit.ts";
import { type Caller, callerLabel, callerOf } from "./caller.ts";
import { tokenPair } from "./convert.ts";
import type { AuthRuntime } from "./runtime.ts";
import type { IssuedRefreshToken } from "./sessions.ts";
import type { Db, UserRow } from "./user_queries.ts";

export interface CallFacts {
  caller: Caller;
  /** The peer address rate limits key on; "unknown" when the transport did not say. */
  ip: string;
  requestId: string;
}

export function callFacts(ctx: HandlerContext): CallFacts {
  return {
    caller: callerOf(ctx),
    ip: ctx.values.get(remoteAddressKey) || "unknown",
    requestId: ctx.values.get(requestIdKey),
  };
}

export function audit(
  runtime: AuthRuntime,
  db: Db,
  facts: CallFacts,
  entry: Omit<AuditEntry, "actor" | "requestId"> & { actor?: string },
): Promise<void> {
  runtime.options.observer?.audited(entry.action);
  return insertAuditEntry(
    db,
    { actor: callerLabel(facts.caller), requestId: facts.requestId, ...entry },
    new Date(runtime.options.clock.now()),
  );
}

/** The scopes a user's token carries: what the role could delegate, shown by GetMe. */
export function userScopes(user: Pick<UserRow, "role">): string[] {
  return [...grantableScopes(user.role)];
}

export async function issueTokenPair(
  runtime: AuthRuntime,
  user: Pick<UserRow, "id" | "role" | "password_change_required">,
  refresh: IssuedRefreshToken,
): Promise<TokenPair> {
  const { auth, clock } = runtime.options;
  const access = await signAccessToken(
    await runtime.keys.currentKey(),
    {
      userId: user.id,
      role: user.role,
      scopes: userScopes(user),
      sessionId: refresh.familyId,
      passwordChangeRequired: user.password_change_required,
    },
    { issuer: auth.issuer, audience: auth.audience, ttlSeconds: auth.accessTtlSeconds, now: clock.now() },
  );
  return tokenPair(access, refresh);
}

/** Emails are compared lower-cased everywhere, rate-limit buckets included. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}
