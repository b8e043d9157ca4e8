/**
 * Where mail goes: an SMTP server when SMTP_URL is set, otherwise .eml files in the
 * outbox folder so the default run never needs a mail server.
 */
import type { EnvReader } from "../config.ts";

export interface MailConfig {
  /** smtp:// or smtps:// URL with optional credentials; unset writes mail to the outbox. */
  smtpUrl?: string;
  /** The From header of every mail. */
  from: string;
  /** Folder that receives .eml files when no SMTP server is configured. */
  outboxDir: string;
}

export function readMailConfig(r: EnvReader, dataDir: string): MailConfig {
  const from = r.string("TASKMESH_MAIL_FROM", "taskmesh <no-reply@taskmesh.localhost>");
  // A From without an address is rejected by most servers long after start; say so now.
  if (!/@[^\s@>]+/.test(from)) {
    r.problem(
      `TASKMESH_MAIL_FROM must contain an email address like "taskmesh <no-reply@example.com>", got "${from}"`,
    );
  }
  return {
    smtpUrl: r.url("SMTP_URL", ["smtp:", "smtps:"]),
    from,
    outboxDir: r.string("TASKMESH_MAIL_OUTBOX_DIR", `${dataDir.replace(/\/+$/, "")}/outbox`),
  };
}
