/**
 * `email.send`: sends one mail. Payload (JSON):
 *
 *   {"to": "ada@example.com", "subject": "…", "text": "…",
 *    "html"?: "…", "from"?: "Name <addr@example.com>", "headers"?: {"List-Unsubscribe": "…"}}
 *
 * It goes out with nodemailer over SMTP when SMTP_URL is configured, otherwise as an
 * .eml file in the outbox folder — the same `sendEmail` the server uses, so a mail
 * looks the same whichever process sends it. A malformed payload or an SMTP 5xx
 * refusal fails the task for good; a 4xx reply or an unreachable server is retried
 * with the task's backoff. Returns `{via, messageId, path?}`.
 *
 * A mail that carries a secret (a token, a signed link) is enqueued sealed: the payload
 * stored with the task is `{"$sealed": "<id>"}`, and the server puts the mail itself in
 * the Assign of the worker that holds the lease. This handler never sees the reference
 * unless the seal expired, and then fails for good. Nothing here writes the mail into the
 * task's output, error or progress, which every reader of the task can see.
 */
import { type EmailMessage, hasAddress, type MailConfig, MailSendError, sendEmail } from "../../mail/mod.ts";
import { PermanentError } from "../errors.ts";
import type { Handler } from "../handler.ts";
import { json } from "../payload.ts";
import { badPayload, payloadHeaders } from "./_payload_fields.ts";

export interface EmailSendOptions {
  /** Where mail goes: SMTP when `smtpUrl` is set, otherwise the outbox folder. */
  mail: MailConfig;
}

/** SMTP's own limit for a header line; longer values are a bug upstream. */
const MAX_HEADER_CHARS = 998;
const bad = badPayload;

function notAString(field: string, required: boolean): PermanentError {
  return bad(`${field} must be a string${required ? "" : " when given"}`);
}

function headerValue(value: unknown, field: string): string {
  if (typeof value !== "string") throw notAString(field, true);
  if (value.length > MAX_HEADER_CHARS) throw bad(`${field} is longer than ${MAX_HEADER_CHARS} characters`);
  // A line break in a header value would start a header of its own.
  if (/[\r\n]/.test(value)) throw bad(`${field} must be one line`);
  return value;
}

/** The payload as a message, or a PermanentError naming the first field that is wrong. */
export function emailPayload(value: unknown): EmailMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PermanentError(
      'payload must be a JSON object like {"to": "ada@example.com", "subject": "…", "text": "…"}',
      { code: "bad_payload" },
    );
  }
  const p = value as Record<string, unknown>;
  if (typeof p.$sealed === "string") {
    // The server opens a sealed payload in the Assign; one still sealed has expired with its secret.
    throw new PermanentError(
      "payload is a sealed message the server could no longer open: it expired with the token it carried, " +
        "so ask for a new mail",
      { code: "sealed_expired" },
    );
  }
  const to = headerValue(p.to, "to");
  if (!hasAddress(to)) throw bad(`to must be an email address, e.g. "ada@example.com"`);
  const subject = headerValue(p.subject, "subject");
  if (subject.trim() === "") throw bad("subject must not be empty");
  if (typeof p.text !== "string") throw notAString("text", true);
  if (p.html !== undefined && typeof p.html !== "string") throw notAString("html", false);
  const from = p.from === undefined ? undefined : headerValue(p.from, "from");
  if (from !== undefined && !hasAddress(from)) {
    throw bad(`from must contain an email address, e.g. "taskmesh <no-reply@example.com>"`);
  }
  const headers = payloadHeaders(p.headers, headerValue);
  return {
    to,
    subject,
    text: p.text as string,
    ...(p.html !== undefined ? { html: p.html as string } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(headers ? { headers } : {}),
  };
}

/** A retryable failure with a code the worker reports (`smtp_451`, `smtp_unavailable`). */
class RetryableMailError extends Error {
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RetryableMailError";
  }
}

/** Rejects with the signal's reason as soon as it aborts; the send itself cannot be called back. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  // The abandoned send still settles later; its outcome no longer matters to anyone.
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The `email.send` handler, sending with this mail configuration. */
export function emailSend(options: EmailSendOptions): Handler {
  const { mail } = options;
  return async (payload, ctx) => {
    const message = emailPayload(json(payload));
    try {
      const sent = await abortable(sendEmail({ mail, log: ctx.log, clock: ctx.clock }, message), ctx.signal);
      return { via: sent.via, messageId: sent.messageId, ...(sent.path ? { path: sent.path } : {}) };
    } catch (error) {
      if (!(error instanceof MailSendError)) throw error;
      const code = error.responseCode !== undefined ? `smtp_${error.responseCode}` : undefined;
      if (error.permanent) {
        throw new PermanentError(error.message, { code: code ?? "bad_envelope", cause: error });
      }
      throw new RetryableMailError(error.message, code ?? "smtp_unavailable", { cause: error });
    }
  };
}
