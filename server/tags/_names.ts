/**
 * What makes two tag names the same, and what a valid name, id, slug and free text are.
 * The key is computed here rather than in SQL so the real Postgres and the embedded PGlite
 * agree on it whatever their collations.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { charCount, CONTROL, CONTROL_EXCEPT_LINES, UUID } from "../kit/validate.ts";

export const NAME_MAX_CHARS = 64;
export const DESCRIPTION_MAX_CHARS = 1000;
export const REASON_MAX_CHARS = 500;

export interface ValidName {
  /** Trimmed and NFC-normalised: what is stored and shown. */
  name: string;
  /** The comparison key: the name lower-cased, unique across names and aliases. */
  key: string;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Trim + NFC: the form a name is stored and compared in. */
export function normaliseName(raw: string): string {
  return raw.normalize("NFC").trim();
}

/**
 * The case-insensitive comparison key. Lower-casing can leave a string that is no longer
 * in NFC (a few letters decompose), hence the second normalisation.
 */
export function nameKey(name: string): string {
  return normaliseName(name).toLowerCase().normalize("NFC");
}

/** Validates a tag name or alias; `field` names the request field in the error. */
export function validateName(field: string, raw: string): ValidName {
  const name = normaliseName(raw);
  if (name.length === 0) {
    throw invalid(`${field} is empty: give a name of 1 to ${NAME_MAX_CHARS} characters`);
  }
  const chars = charCount(name);
  if (chars > NAME_MAX_CHARS) {
    throw invalid(`${field} is ${chars} characters long: shorten it to at most ${NAME_MAX_CHARS}`);
  }
  if (CONTROL.test(name)) {
    throw invalid(
      `${field} contains a control character: remove line breaks, tabs and other control characters`,
    );
  }
  return { name, key: nameKey(name) };
}

/** Validates optional free text (descriptions, reasons). */
export function validateText(field: string, raw: string, maxChars: number): string {
  const text = raw.normalize("NFC").trim();
  const chars = charCount(text);
  if (chars > maxChars) {
    throw invalid(`${field} is ${chars} characters long: shorten it to at most ${maxChars}`);
  }
  if (CONTROL_EXCEPT_LINES.test(text)) {
    throw invalid(`${field} contains a control character: keep to printable text and line breaks`);
  }
  return text;
}

/** Validates a required tag or suggestion id. */
export function validateId(field: string, raw: string): string {
  const id = raw.trim();
  if (id === "") throw invalid(`${field} is empty: pass the id of an existing tag`);
  if (!UUID.test(id)) {
    throw invalid(`${field} "${raw.slice(0, 80)}" is not an id: pass the UUID a tag call returned`);
  }
  return id.toLowerCase();
}

/** Validates an id that may be empty (a root parent); empty gives null. */
export function validateOptionalId(field: string, raw: string): string | null {
  return raw.trim() === "" ? null : validateId(field, raw);
}

// Characters that would otherwise vanish from a slug and make "C", "C++" and "C#" collide.
const SLUG_WORDS: Record<string, string> = { "+": " plus ", "#": " sharp ", "&": " and ", "@": " at " };

/**
 * The URL-safe base of a slug: ASCII letters, digits and single hyphens. Accents are
 * dropped (Café → cafe); a name with nothing left (all non-Latin) falls back to "tag".
 * Uniqueness suffixes (-2, -3…) are added by the caller that knows which slugs are taken.
 */
export function slugBase(name: string): string {
  const spelled = normaliseName(name).replace(/[+#&@]/g, (c) => SLUG_WORDS[c]);
  const slug = spelled
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/, "");
  return slug === "" ? "tag" : slug;
}

/** The first of `base`, `base-2`, `base-3`… that is not in `taken`. */
export function pickSlug(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2;; n++) {
    const candidate = `${base}-${n}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** A slug as a client may type it: lower-case, no surrounding blanks. */
export function normaliseSlug(raw: string): string {
  return raw.trim().toLowerCase();
}
