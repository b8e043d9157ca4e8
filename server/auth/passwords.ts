/**
 * Password hashing and rules. argon2id with the OWASP parameters written out, so a
 * change of library defaults never changes our hashes silently; a stored hash made
 * with other parameters is re-hashed at the next successful login.
 */
import { type Algorithm, hash, parseOptions, verify } from "@node-rs/argon2";

export const ARGON2_PARAMS = {
  // Algorithm.Argon2id; the enum is declared `const` in the typings, so its value is spelled here.
  algorithm: 2 as Algorithm,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    // A malformed stored hash is a failed login, never an error that tells the caller more.
    return false;
  }
}

/** Whether a stored hash was made with other parameters than today's. */
export function needsRehash(stored: string): boolean {
  try {
    const p = parseOptions(stored);
    return p.algorithm !== ARGON2_PARAMS.algorithm || p.memoryCost !== ARGON2_PARAMS.memoryCost ||
      p.timeCost !== ARGON2_PARAMS.timeCost || p.parallelism !== ARGON2_PARAMS.parallelism ||
      p.outputLen !== ARGON2_PARAMS.outputLen;
  } catch {
    return true;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random password with today's parameters. Login verifies against it when
 * the email is unknown, so unknown and known emails cost the same time.
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  return dummyHash;
}

let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  common ??= new Set(
    Deno.readTextFileSync(new URL("./common_passwords.txt", import.meta.url))
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#")),
  );
  return common;
}

function normalise(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

/** The first rule the password breaks, as an error message, or undefined when it is acceptable. */
export function passwordProblem(password: string, email: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return `must be at least ${PASSWORD_MIN_LENGTH} characters: a few words in a row make a strong one`;
  }
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  const p = normalise(password);
  if (p === normalise(email.trim())) return "must not be the email address: choose something else";
  if (commonPasswords().has(p)) return "is one of the most common passwords: choose a less guessable one";
  return undefined;
}
