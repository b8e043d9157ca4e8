/**
 * Audit rows for what security reviews ask about: sign-ins, role changes, keys,
 * resets, refresh-token reuse. Written in the same transaction as the change when
 * there is one, so a change is never recorded without happening or the reverse.
 */
import type { Db } from "./user_queries.ts";

export type AuditAction =
  | "auth.register"
  | "auth.email_verified"
  | "auth.login.success"
  | "auth.login.failure"
  | "auth.refresh.reuse"
  | "auth.logout_all"
  | "auth.password_reset.request"
  | "auth.password_reset"
  | "auth.password_change"
  | "auth.password_change.failure"
  | "auth.register.existing_email"
  | "auth.user.reset_first_admin"
  | "auth.role.set"
  | "auth.user.disable"
  | "auth.user.create_admin"
  | "auth.signing_key.rotate"
  | "auth.api_key.create"
  | "auth.api_key.revoke";

export interface AuditEntry {
  /** `user:<id>`, `key:<id>`, `anonymous` or `system` (callerLabel). */
  actor: string;
  action: AuditAction;
  target?: string;
  details?: Record<string, string | number | boolean | null | string[]>;
  requestId?: string;
}

export async function insertAuditEntry(db: Db, entry: AuditEntry, now: Date): Promise<void> {
  await db`
    insert into audit_log (time, actor, action, target, details, request_id)
    values (${now}, ${entry.actor}, ${entry.action}, ${entry.target ?? null},
            ${db.json(entry.details ?? {})}, ${entry.requestId || null})`;
}
