/**
 * Verified API keys, kept in the process for a short time so a warm key costs no
 * Postgres round trip per call. Bounded twice: an entry lives at most `ttlMs` (and never
 * past the key's own expiry), and the least recently used entry goes when `maxEntries`
 * is reached. Only keys that verified are kept: an unknown or refused secret is looked
 * up every time, so guessing secrets cannot fill the cache or push real keys out.
 *
 * The revocation bus (server/authz/revocations.ts) empties what a revocation reaches, on
 * every instance: the key revoked, every key of a user disabled, every key of a user whose
 * role changed (a key's scopes are narrowed by its owner's role). A lookup that was in
 * flight while a revocation was heard is not kept, so it cannot put back what was removed.
 * While the bus's subscription is down nothing is kept or trusted (every call asks
 * Postgres, as without the cache); an announcement lost some other way is bounded by the TTL.
 */
import type { Revocation, RevocationBus } from "../authz/revocations.ts";
import type { Caller } from "./caller.ts";

type ApiKeyCaller = Extract<Caller, { kind: "api_key" }>;

/** How long a verified key is trusted without asking Postgres again. */
export const API_KEY_CACHE_TTL_MS = 30_000;
/** How many verified keys one process keeps. */
export const API_KEY_CACHE_MAX_ENTRIES = 10_000;

interface Entry {
  caller: ApiKeyCaller;
  /** When the entry stops being trusted: the TTL, or the key's expiry if sooner. */
  until: number;
}

export class VerifiedKeyCache {
  /** By secret hash; a Map keeps insertion order, so the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #off: () => void;
  readonly #offHearing: () => void;
  #epoch = 0;
  /** False while the bus may be missing revocations: nothing is kept or trusted then. */
  #trusting = true;

  constructor(options: { bus: RevocationBus; ttlMs?: number; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs ?? API_KEY_CACHE_TTL_MS;
    this.#maxEntries = options.maxEntries ?? API_KEY_CACHE_MAX_ENTRIES;
    this.#off = options.bus.subscribe((r) => this.forget(r));
    this.#offHearing = options.bus.watchHearing((hearing) => {
      this.clear();
      this.#trusting = hearing;
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Changes whenever a revocation is heard. Read it before looking a key up in Postgres
   * and hand it to `set`: a revocation heard in between makes that `set` keep nothing.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** The caller of a verified key, or undefined when it is not (or no longer) kept. */
  get(hash: string, now: number): ApiKeyCaller | undefined {
    const entry = this.#entries.get(hash);
    if (!entry || !this.#trusting) return undefined;
    this.#entries.delete(hash);
    if (now >= entry.until) return undefined;
    this.#entries.set(hash, entry);
    return entry.caller;
  }

  /** Keeps a key that verified at `epoch`, until the TTL or `expiresAt` (ms), whichever is first. */
  set(hash: string, caller: ApiKeyCaller, expiresAt: number | null, epoch: number, now: number): void {
    if (epoch !== this.#epoch || !this.#trusting || this.#ttlMs <= 0) return;
    const until = Math.min(now + this.#ttlMs, expiresAt ?? Number.POSITIVE_INFINITY);
    this.#entries.delete(hash);
    this.#entries.set(hash, { caller, until });
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Drops every entry the revocation reaches. */
  forget(revocation: Revocation): void {
    this.#epoch++;
    const reached = (c: ApiKeyCaller): boolean => {
      switch (revocation.kind) {
        case "api_key":
          return c.keyId === revocation.keyId;
        case "user":
        case "role":
          return c.ownerId === revocation.userId;
        case "sessions":
          return false;
      }
    };
    for (const [hash, entry] of this.#entries) {
      if (reached(entry.caller)) this.#entries.delete(hash);
    }
  }

  /** Forgets everything (a gap in what the bus heard) and stops listening on close. */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }

  close(): void {
    this.#off();
    this.#offHearing();
    this.clear();
  }
}
