/**
 * Request checks shared by the auth handlers. Every failure is InvalidArgument naming
 * the field, in the form "<field> <what is wrong>: <what to do>".
 */
import { Code, ConnectError } from "@connectrpc/connect";

export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field} ${problem}`, Code.InvalidArgument);
}

export const EMAIL_MAX_LENGTH = 254;
// Deliberately loose: the verification mail is the real check; this only stops obvious typos.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The trimmed email, or InvalidArgument. */
export function requireEmail(value: string, field = "email"): string {
  const email = value.trim();
  if (email === "") throw invalidArgument(field, "is required: give the account's email address");
  if (email.length > EMAIL_MAX_LENGTH) {
    throw invalidArgument(field, `must be at most ${EMAIL_MAX_LENGTH} characters`);
  }
  if (!EMAIL_SHAPE.test(email)) throw invalidArgument(field, "is not an email address: check it for typos");
  return email;
}

export function requireNonEmpty(value: string, field: string, what: string): string {
  if (value === "") throw invalidArgument(field, `is required: ${what}`);
  if (value.length > 1024) throw invalidArgument(field, "is far too long: send the value exactly as given");
  return value;
}

/** A trimmed human name of 1–100 characters without control characters. */
export function requireName(value: string, field: string): string {
  const name = value.trim().normalize("NFC");
  const length = [...name].length;
  if (length === 0) throw invalidArgument(field, "is required: give 1 to 100 characters");
  if (length > 100) throw invalidArgument(field, "must be at most 100 characters");
  if (CONTROL.test(name)) throw invalidArgument(field, "must not contain control characters");
  return name;
}

export function requireUuid(value: string, field: string): string {
  if (!UUID.test(value)) throw invalidArgument(field, "is not a valid id: pass an id as returned by the API");
  return value.toLowerCase();
}
