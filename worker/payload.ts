/**
 * Payloads and outputs are bytes on the wire and JSON by convention. These helpers
 * keep that convention in one place.
 */
import { PermanentError } from "./errors.ts";

/** What a handler may return: bytes as they are, anything else JSON-encoded, nothing as empty. */
export type HandlerOutput = Uint8Array | string | number | boolean | object | null | undefined | void;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Decodes a JSON payload. A payload that is not JSON will not become JSON on the next
 * attempt, so this throws a PermanentError (code "bad_payload").
 */
export function json<T = unknown>(payload: Uint8Array): T {
  const text = decoder.decode(payload);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    const shown = text.length > 60 ? text.slice(0, 60) + "…" : text;
    throw new PermanentError(`payload is not JSON (${JSON.stringify(shown)}): enqueue a JSON payload`, {
      code: "bad_payload",
      cause: error,
    });
  }
}

/** The bytes of a handler's return value. */
export function encodeOutput(value: HandlerOutput): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value === undefined) return new Uint8Array();
  return encoder.encode(JSON.stringify(value));
}
