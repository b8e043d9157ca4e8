/**
 * Sending mail, shared by the server (auth mails when the task runtime is not in the
 * process) and the worker (the `email.send` handler). It imports nothing from
 * `server/` or `worker/`: a logger and a clock are passed in as small interfaces.
 * Test helpers (a real SMTP sink on loopback) are in `mail/testing.ts`.
 */
export {
  DEFAULT_DATA_DIR,
  DEFAULT_MAIL_FROM,
  hasAddress,
  type MailConfig,
  mailConfigFromEnv,
  type MailEnvReader,
  readMailConfig,
} from "./config.ts";
export {
  type EmailMessage,
  type MailClock,
  type Mailer,
  mailerOf,
  type MailLogger,
  MailSendError,
  sendEmail,
  type SentEmail,
} from "./send.ts";
