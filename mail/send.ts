/**
 * The one way taskmesh sends an email. The server's auth calls it directly when the
 * task runtime is elsewhere; the worker's `email.send` handler calls it for every mail
 * taken from the `emails` queue. It depends on nothing but its arguments: the logger
 * and clock are the small shapes below, which the server's and the worker's both fit.
 */
import { createTransport } from "nodemailer";
import { composeMail } from "./compose.ts";
import type { MailConfig } from "./config.ts";

/** What sendEmail logs with. */
export interface MailLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
}

/** What sendEmail reads the time from (the outbox file names). */
export interface MailClock {
  now(): number;
}

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Extra headers, e.g. List-Unsubscribe for campaigns. */
  headers?: Record<string, string>;
  /** Overrides the configured From (MailConfig.from). */
  from?: string;
}

/** What sendEmail needs; a full Deps has all of it under other names, so callers pass `mailerOf(deps)`. */
export interface Mailer {
  mail: MailConfig;
  log?: MailLogger;
  clock?: MailClock;
}

export interface SentEmail {
  via: "smtp" | "outbox";
  messageId: string;
  /** The .eml file, when written to the outbox. */
  path?: string;
}

/**
 * A send that failed. `permanent` tells a retrying caller to give up: the server
 * refused the message for good (5xx), as opposed to being busy or unreachable.
 */
export class MailSendError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly responseCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MailSendError";
  }
}

type SmtpTransport = ReturnType<typeof createTransport>;

// One transport per SMTP URL: nodemailer's SMTP transport is cheap but parses its URL
// and options each time, and a per-process cache keeps sendEmail a plain function.
const smtpTransports = new Map<string, SmtpTransport>();

function smtpTransport(url: string): SmtpTransport {
  let transport = smtpTransports.get(url);
  if (!transport) {
    transport = createTransport(url);
    smtpTransports.set(url, transport);
  }
  return transport;
}

// Builds the raw message without sending it, for the outbox.
const composer = createTransport({ streamTransport: true, buffer: true, newline: "unix" });

/** The parts of a Deps that mail needs, under the names sendEmail expects. */
export function mailerOf(
  deps: { config: { mail: MailConfig }; log?: MailLogger; clock?: MailClock },
): Mailer {
  return { mail: deps.config.mail, log: deps.log, clock: deps.clock };
}

function outboxFileName(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `${stamp}-${random}.eml`;
}

function recipientDomain(to: string): string {
  return to.split("@").pop()?.replace(/>$/, "") ?? "";
}

export async function sendEmail(mailer: Mailer, message: EmailMessage): Promise<SentEmail> {
  const { mail, log } = mailer;
  const envelope = {
    from: message.from ?? mail.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
    ...(message.headers ? { headers: message.headers } : {}),
  };

  if (mail.smtpUrl === undefined) {
    const info = await composer.sendMail(envelope);
    const now = (mailer.clock ?? { now: Date.now }).now();
    await Deno.mkdir(mail.outboxDir, { recursive: true });
    const path = `${mail.outboxDir}/${outboxFileName(now)}`;
    // Written whole under a temporary name, then renamed, so a reader never sees half a mail.
    await Deno.writeFile(`${path}.tmp`, info.message as Uint8Array);
    await Deno.rename(`${path}.tmp`, path);
    log?.info("mail written to outbox", { path, domain: recipientDomain(message.to) });
    return { via: "outbox", messageId: info.messageId, path };
  }

  try {
    // Composed in memory first (compose.ts), then handed to the pool whole: streamed from the
    // MIME tree, every header block and body line was a socket write of its own. With `raw`
    // nodemailer reads no headers, so the envelope and the Message-ID it reports come along.
    const { raw, messageId, envelope: smtpEnvelope } = await composeMail(envelope);
    const info = await smtpTransport(mail.smtpUrl).sendMail({ envelope: smtpEnvelope, messageId, raw });
    log?.info("mail sent", { message_id: info.messageId, domain: recipientDomain(message.to) });
    return { via: "smtp", messageId: info.messageId };
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode;
    const refused = code !== undefined && code >= 500 && code < 600;
    // EENVELOPE without a reply: no usable sender or recipient, which no retry can fix.
    const permanent = refused || (code === undefined && (error as { code?: string }).code === "EENVELOPE");
    const detail = error instanceof Error ? ` (${error.message.slice(0, 200)})` : "";
    throw new MailSendError(
      `sending mail failed${code ? ` with SMTP ${code}` : ""}${detail}: ${
        refused
          ? "the server refused it for good"
          : permanent
          ? "the message has no usable sender or recipient"
          : "try again later"
      }`,
      permanent,
      code,
      { cause: error },
    );
  }
}
