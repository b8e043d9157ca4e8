/**
 * Request checks shared by the auth handlers, on the validation kit. Every failure is
 * InvalidArgument naming the field, in the form "<field> <what is wrong>: <what to do>".
 */
import { invalid, text, uuid } from "../kit/validate.ts";

export { invalid as invalidArgument };

export const EMAIL_MAX_LENGTH = 254;
export const NAME_MAX_LENGTH = 100;
export const REASON_MAX_LENGTH = 500;
/** How far ahead an API key's expire_time may be (none means no expiry). */
export const API_KEY_MAX_LIFETIME_MS = 10 * 366 * 24 * 3600_000;
// Deliberately loose: the verification mail is the real check; this only stops obvious typos.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** The trimmed email, or InvalidArgument. */
export function requireEmail(value: string, field = "email"): string {
  const email = value.trim();
  if (email === "") throw invalid(field, "is required: give the account's email address");
  text(field, email, { max: EMAIL_MAX_LENGTH });
  if (!EMAIL_SHAPE.test(email)) throw invalid(field, "is not an email address: check it for typos");
  return email;
}

/** A required value passed through as given (a password, a token): only its length and NUL-free text are checked. */
export function requireNonEmpty(value: string, field: string, what: string): string {
  if (value === "") throw invalid(field, `is required: ${what}`);
  return text(field, value, { max: 1024, lines: true });
}

/** A trimmed human name of 1–100 characters without control characters. */
export function requireName(value: string, field: string): string {
  const name = value.trim().normalize("NFC");
  if (name === "") throw invalid(field, `is required: give 1 to ${NAME_MAX_LENGTH} characters`);
  return text(field, name, { max: NAME_MAX_LENGTH });
}

export function requireUuid(value: string, field: string): string {
  return uuid(field, value);
}
