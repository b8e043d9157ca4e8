/**
 * `webhook.post`: POSTs a JSON body to a URL. Payload (JSON):
 *
 *   {"url": "https://hooks.example.com/taskmesh", "body": {…}, "headers"?: {"Authorization": "…"}}
 *
 * A 2xx answer succeeds (output `{"status": 200}`); a 408, 429, 5xx answer or a network
 * failure is retried with the task's backoff (the server's alerts, for one, are sent
 * this way with eight attempts); any other 4xx fails for good, since asking again will
 * get the same answer, as does a malformed payload. The call aborts with the task's
 * signal (cancel, timeout, shutdown).
 */
import { PermanentError } from "../errors.ts";
import type { Handler } from "../handler.ts";
import { json } from "../payload.ts";
import { badPayload, payloadHeaders } from "./_payload_fields.ts";

const MAX_URL_CHARS = 2048;
/** How much of the receiver's answer is kept in an error message. */
const ANSWER_CHARS = 200;

const bad = badPayload;

interface WebhookCall {
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

/** The payload as a call, or a PermanentError naming the first field that is wrong. */
export function webhookPayload(value: unknown): WebhookCall {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PermanentError('payload must be a JSON object like {"url": "https://…", "body": {…}}', {
      code: "bad_payload",
    });
  }
  const p = value as Record<string, unknown>;
  if (typeof p.$sealed === "string") {
    // The server opens a sealed call in the Assign; one still sealed has expired.
    throw new PermanentError("payload is a sealed call the server could no longer open: it expired", {
      code: "sealed_expired",
    });
  }
  if (typeof p.url !== "string" || p.url.length > MAX_URL_CHARS) {
    throw bad(`url must be a string of at most ${MAX_URL_CHARS} characters`);
  }
  let url: URL;
  try {
    url = new URL(p.url);
  } catch {
    throw bad("url is not a URL: give an http:// or https:// address");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad("url must be http:// or https://");
  if (!("body" in p)) throw bad("body is required: the JSON value to POST");
  const headers = payloadHeaders(p.headers, (v, field) => {
    if (typeof v !== "string" || /[\r\n]/.test(v)) throw bad(`${field} must be a one-line string`);
    return v;
  }) ?? {};
  return { url: url.href, body: p.body, headers };
}

/** A failure worth another attempt, with the code the worker reports (`http_503`, `http_unreachable`). */
class RetryableWebhookError extends Error {
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RetryableWebhookError";
  }
}

const RETRYABLE_STATUS = (status: number) => status === 408 || status === 429 || status >= 500;

export const webhookPost: Handler = async (payload, ctx) => {
  const call = webhookPayload(json(payload));
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...call.headers },
      body: JSON.stringify(call.body),
      signal: ctx.signal,
      redirect: "manual",
    });
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new RetryableWebhookError(
      `webhook unreachable: ${String(error).slice(0, ANSWER_CHARS)}`,
      "http_unreachable",
      {
        cause: error,
      },
    );
  }
  const answer = (await response.text().catch(() => "")).slice(0, ANSWER_CHARS);
  if (response.ok) return { status: response.status };
  const message = `webhook answered ${response.status}${answer ? `: ${answer}` : ""}`;
  if (RETRYABLE_STATUS(response.status)) throw new RetryableWebhookError(message, `http_${response.status}`);
  throw new PermanentError(`${message} (not retried: fix the receiver or the rule)`, {
    code: `http_${response.status}`,
  });
};
