/**
 * The handlers every taskmesh worker process ships with: `noop`, `sleep`,
 * `email.send` (nodemailer over SMTP, or the outbox folder), which sends the mails
 * the server queues in `emails`, and `webhook.post` (an HTTP POST with retries), which
 * delivers the server's alerts to webhooks from the `alerts` queue.
 */
import { DEFAULT_DATA_DIR, DEFAULT_MAIL_FROM, type MailConfig } from "../../mail/mod.ts";
import type { Handlers } from "../handler.ts";
import { emailSend } from "./email_send.ts";
import { noop } from "./noop.ts";
import { sleep } from "./sleep.ts";
import { webhookPost } from "./webhook_post.ts";

export { emailPayload, emailSend, type EmailSendOptions } from "./email_send.ts";
export { noop } from "./noop.ts";
export { sleep } from "./sleep.ts";
export { webhookPayload, webhookPost } from "./webhook_post.ts";

export interface BuiltinHandlerOptions {
  /**
   * Where `email.send` sends (worker/main.ts reads it from SMTP_URL and friends). Default:
   * no SMTP, the outbox folder `.data/outbox`, the server's default From.
   */
  mail?: MailConfig;
}

/** The built-in handlers by task type, for `deno task worker`. */
export function builtinHandlers(options: BuiltinHandlerOptions = {}): Handlers {
  const mail = options.mail ?? { from: DEFAULT_MAIL_FROM, outboxDir: `${DEFAULT_DATA_DIR}/outbox` };
  return { noop, sleep, "email.send": emailSend({ mail }), "webhook.post": webhookPost };
}
