/**
 * The port through which auth sends its mails when the process runs the task runtime:
 * the composition root (server/runtimes.ts) wires it to the task engine
 * (server/tasks/auth_mail.ts), so auth never imports tasks/.
 */
import type { EmailMessage } from "../../mail/mod.ts";

export interface MailQueue {
  /** Seals the mail (it carries a token) and enqueues it; resolves once the task is committed. */
  sendSealed(message: EmailMessage): Promise<unknown>;
}
