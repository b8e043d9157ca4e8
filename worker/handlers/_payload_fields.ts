/**
 * Field checks the built-in handlers' payloads share: the error naming a wrong field, and
 * the optional `headers` object (header names to one-line strings, at most MAX_HEADERS).
 */
import { PermanentError } from "../errors.ts";

export const MAX_HEADERS = 32;

/** A malformed payload: asking again gets the same answer, so it fails for good. */
export function badPayload(message: string): PermanentError {
  return new PermanentError(`payload.${message}`, { code: "bad_payload" });
}

/**
 * The payload's `headers`, or undefined when it has none. Each value goes through `value`
 * (which throws a bad-payload error naming `headers.<name>` for one it refuses).
 */
export function payloadHeaders(
  headers: unknown,
  value: (v: unknown, field: string) => string,
): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw badPayload("headers must be an object of header names to strings");
  }
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) {
    throw badPayload(`headers holds ${entries.length} headers: at most ${MAX_HEADERS}`);
  }
  const out: Record<string, string> = {};
  for (const [name, v] of entries) {
    if (!/^[A-Za-z0-9-]{1,76}$/.test(name)) {
      throw badPayload(`headers: "${name.slice(0, 80)}" is not a header name`);
    }
    out[name] = value(v, `headers.${name}`);
  }
  return out;
}
