/**
 * While a user must change their password (the first admin's one-time password), their
 * access token says so (claim `pcr`) and only the methods here are open to it: enough to
 * change the password, see who they are, and end or renew the session. The check reads
 * the token only, so it costs no database read per call; ChangePassword returns a token
 * without the claim.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Caller } from "../auth/caller.ts";

const AUTH_SERVICE = "taskmesh.auth.v1.AuthService";

export const OPEN_BEFORE_PASSWORD_CHANGE: ReadonlySet<string> = new Set(
  ["ChangePassword", "GetMe", "Logout", "Refresh"].map((m) => `${AUTH_SERVICE}/${m}`),
);

/** PermissionDenied when the caller must change their password first and the method is not open to them. */
export function checkPasswordChangeGate(caller: Caller, service: string, method: string): void {
  if (caller.kind !== "user" || !caller.passwordChangeRequired) return;
  if (OPEN_BEFORE_PASSWORD_CHANGE.has(`${service}/${method}`)) return;
  throw new ConnectError(
    "your password must be changed first: call ChangePassword with the one-time password and a new one, then use the token it returns",
    Code.PermissionDenied,
  );
}
