/**
 * What makes two tag names the same, and what a valid name, id, slug and free text are.
 * The key is computed here rather than in SQL so the real Postgres and the embedded PGlite
 * agree on it whatever their collations.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export const NAME_MAX_CHARS = 64;
export const DESCRIPTION_MAX_CHARS = 1000;
export const REASON_MAX_CHARS = 500;

const CONTROL = /\p{Cc}/u;
// Free text may span lines; every other control character is refused (Postgres cannot store NUL).
const CONTROL_EXCEPT_LINES = /[^\P{Cc}\n\r\t]/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ValidName {
  /** Trimmed and NFC-normalised: what is stored and shown. */
  name: string;
  /** The comparison key (nameKey): unique across names and aliases. */
  key: string;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Trim + NFC: the form a name is stored and compared in. */
export function normaliseName(raw: string): string {
  return raw.normalize("NFC").trim();
}

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
const FINAL_SIGMA = /\u03c2/g;
const I_WITH_DOT_ABOVE = /i\u0307/g;

/**
 * Full Unicode case folding of text, in the spirit of Unicode's NFKC_Casefold:
 * 1. NFKC, so compatibility forms are one (ﬁ = fi, the Kelvin sign K = K, full-width Ａ = A);
 * 2. default-ignorable characters removed (soft hyphen, zero-width joiners);
 * 3. upper-case then lower-case, repeated until nothing changes: JavaScript has no case
 *    fold, but the full mappings of toUpperCase expand what lower-casing alone keeps
 *    (ß → SS → ss; ẞ → ß → ss; ŉ → ʼN → ʼn; ﬀ → FF → ff);
 * 4. final sigma ς folded to σ (lower-casing picks ς by position, folding does not);
 * 5. the dotted capital İ (lower-cased to i + U+0307) and the dotless ı (upper-cased to I)
 *    both end as plain i, so Turkish and non-Turkish spellings of a name are one name;
 * 6. NFKC again, because case mapping can leave text unnormalised.
 * Locale-free, deterministic, and idempotent (every code point checked in _names_test.ts).
 */
export function foldCase(text: string): string {
  let folded = text.normalize("NFKC").replace(IGNORABLE, "");
  for (let round = 0; round < 4; round++) {
    const next = folded.toUpperCase().toLowerCase();
    if (next === folded) break;
    folded = next;
  }
  return folded.replace(FINAL_SIGMA, "\u03c3").replace(I_WITH_DOT_ABOVE, "i").normalize("NFKC");
}

/**
 * The comparison key of a tag name: trimmed and fully case-folded (foldCase), so "Straße"
 * and "STRASSE", "İstanbul" and "istanbul", "Café" composed or decomposed are one name.
 * Accents still count: "Cafe" and "Café" are two.
 */
export function nameKey(name: string): string {
  return foldCase(normaliseName(name)).trim();
}

/** A name prefix folded like a name key, but only the start is trimmed: "web " is a meaningful prefix. */
export function namePrefixKey(raw: string): string {
  return foldCase(raw.normalize("NFC").trimStart());
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
  const key = nameKey(name);
  if (key === "") {
    throw invalid(`${field} has no visible character: give a name of 1 to ${NAME_MAX_CHARS} characters`);
  }
  return { name, key };
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
const SLUG_MAX_CHARS = 60;
const LATIN_ACCENTS = /(\p{Script=Latin})\p{M}+/gu;
const NOT_SLUG = /[^\p{L}\p{N}\p{M}]+/gu;

/**
 * The readable base of a slug: the name's letters and digits, of any script, case-folded
 * (foldCase), with single hyphens between words. Accents on Latin letters are dropped
 * (Café → cafe, İstanbul → istanbul), as ASCII-minded URLs expect; the marks of other
 * scripts are part of their spelling and stay (日本語 → 日本語, Ελληνικά → ελληνικά,
 * हिन्दी → हिन्दी). At most 60 characters; a name with no letter or digit at all falls back
 * to "tag". Uniqueness suffixes (-2, -3…) are added by the caller that knows which slugs
 * are taken. A slug holds only letters, digits, marks and "-", never % or _.
 */
export function slugBase(name: string): string {
  const spelled = normaliseName(name).replace(/[+#&@]/g, (c) => SLUG_WORDS[c]);
  const words = foldCase(spelled.normalize("NFKD").replace(LATIN_ACCENTS, "$1"))
    .replace(NOT_SLUG, "-")
    .replace(/^-+|-+$/g, "");
  // Cut by characters, never inside a surrogate pair, and without a trailing hyphen.
  const slug = [...words].slice(0, SLUG_MAX_CHARS).join("").replace(/-+$/, "").normalize("NFC");
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

/** A slug as a client may type it (any case, any Unicode form, blanks around): the stored form. */
export function normaliseSlug(raw: string): string {
  return foldCase(raw.trim()).normalize("NFC");
}
