/**
 * The API-key scopes taskmesh knows, and which a user of each role may put on a key.
 * A scope names a slice of the authorization table; keys never carry roles.
 */
import type { Role } from "../auth/caller.ts";

export const API_KEY_SCOPES = [
  "tasks:read",
  "tasks:enqueue",
  "tasks:manage",
  // `worker`: serve queues. A worker on the `emails` queue receives auth's mails opened
  // (server/tasks/sealed_payloads.ts), verification and password-reset links included, so
  // whoever holds such a key can take over any account, an admin's too: only admins grant it.
  "worker",
  "tags:read",
  "campaigns:read",
  "campaigns:manage",
] as const;

export type ApiKeyScope = typeof API_KEY_SCOPES[number];

/** In a rule's scope list: any valid API key, whatever its scopes (e.g. GetMe). */
export const ANY_API_KEY = "*";

export function isKnownScope(scope: string): scope is ApiKeyScope {
  return (API_KEY_SCOPES as readonly string[]).includes(scope);
}

const READ_SCOPES: readonly ApiKeyScope[] = ["tasks:read", "tags:read", "campaigns:read"];
const OPERATOR_SCOPES: readonly ApiKeyScope[] = API_KEY_SCOPES.filter((s) => s !== "worker");

/**
 * What a user may delegate: never more than the role itself may do. Members act only
 * for themselves in the browser, so they get no keys; viewers only read; operators all
 * but `worker`, which carries the auth mails' secrets (above) and is for admins only.
 */
export function grantableScopes(role: Role): readonly ApiKeyScope[] {
  switch (role) {
    case "member":
      return [];
    case "viewer":
      return READ_SCOPES;
    case "operator":
      return OPERATOR_SCOPES;
    case "admin":
      return API_KEY_SCOPES;
  }
}
