/**
 * Who is calling: set by the authentication interceptor on every RPC's context,
 * read by services and by the authorization table.
 */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";

export type Role = "member" | "viewer" | "operator" | "admin";

export type Caller =
  | { kind: "anonymous" }
  | {
    kind: "user";
    userId: string;
    role: Role;
    scopes: readonly string[];
    sessionId?: string;
    /** From the token: until ChangePassword, only the methods in server/authz/password_change_gate.ts. */
    passwordChangeRequired?: true;
  }
  | { kind: "api_key"; keyId: string; ownerId: string; scopes: readonly string[] };

export const ANONYMOUS: Caller = { kind: "anonymous" };

export const callerKey = createContextKey<Caller>(ANONYMOUS, { description: "taskmesh caller" });

export function callerOf(ctx: HandlerContext): Caller {
  return ctx.values.get(callerKey);
}

/** The id to log and audit for a caller. */
export function callerLabel(caller: Caller): string {
  switch (caller.kind) {
    case "anonymous":
      return "anonymous";
    case "user":
      return `user:${caller.userId}`;
    case "api_key":
      return `key:${caller.keyId}`;
  }
}

/** The calling user, or Unauthenticated when the caller is not a signed-in user. */
export function requireUser(ctx: HandlerContext): Extract<Caller, { kind: "user" }> {
  const caller = callerOf(ctx);
  if (caller.kind !== "user") {
    throw new ConnectError(
      "this method needs a signed-in user: log in and send the access token",
      Code.Unauthenticated,
    );
  }
  return caller;
}
