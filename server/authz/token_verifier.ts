/**
 * Verifies access tokens locally, in any service of the mesh, from a JWKS source: the
 * auth service's key store when co-located, its published JWKS (fetched and cached)
 * when not. The algorithm is pinned to EdDSA and the token type to at+jwt, so `none`,
 * HMAC-with-the-public-key and other confusions never reach a signature check.
 */
import { errors, importJWK, type JWK, jwtVerify } from "jose";
import type { Role } from "../auth/caller.ts";
import { isRole } from "../auth/roles.ts";
import type { Clock } from "../clock.ts";

export const ACCESS_TOKEN_ALG = "EdDSA";
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** Private claim: true while the user must change their password before anything else. */
export const PASSWORD_CHANGE_CLAIM = "pcr";

export interface JwksSource {
  /** The public key that verifies tokens with this `kid`, or undefined when unknown. */
  keyFor(kid: string): Promise<CryptoKey | undefined>;
}

export interface AccessClaims {
  userId: string;
  role: Role;
  scopes: string[];
  /** The refresh family the token was issued for. */
  sessionId?: string;
  /** The user must call ChangePassword before anything else. */
  passwordChangeRequired: boolean;
  expiresAt: number;
}

/** Why a token was refused; the reason is logged, callers only learn that it was. */
export class TokenError extends Error {
  constructor(readonly reason: string, readonly expired = false) {
    super(`access token refused: ${reason}`);
    this.name = "TokenError";
  }
}

/** No keys to verify with (the JWKS could not be fetched): the caller is not at fault, so not Unauthenticated. */
export class KeysUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeysUnavailableError";
  }
}

export interface TokenVerifierOptions {
  keys: JwksSource;
  issuer: string;
  audience: string;
  clock: Clock;
  clockSkewSeconds: number;
  /**
   * The longest lifetime (exp − iat) a token may claim; longer is refused, plus the skew.
   * The auth service never signs longer ones, so one that does was signed by a key that leaked
   * or by a misconfigured issuer, and must not outlive the TTL everyone relies on.
   */
  accessTtlSeconds: number;
}

export type TokenVerifier = (token: string) => Promise<AccessClaims>;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { keys, issuer, audience, clock, clockSkewSeconds, accessTtlSeconds } = options;
  return async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          if (header.alg !== ACCESS_TOKEN_ALG) {
            throw new TokenError(`algorithm ${header.alg} is not accepted`);
          }
          if (typeof header.kid !== "string" || header.kid === "") {
            throw new TokenError("no kid in the header");
          }
          const key = await keys.keyFor(header.kid);
          if (!key) throw new TokenError(`unknown kid ${header.kid.slice(0, 64)}`);
          return key;
        },
        {
          algorithms: [ACCESS_TOKEN_ALG],
          typ: ACCESS_TOKEN_TYPE,
          issuer,
          audience,
          currentDate: new Date(clock.now()),
          clockTolerance: clockSkewSeconds,
          requiredClaims: ["sub", "exp", "iat", "nbf"],
        },
      ));
    } catch (error) {
      if (error instanceof TokenError || error instanceof KeysUnavailableError) throw error;
      if (error instanceof errors.JWTExpired) throw new TokenError("expired", true);
      if (error instanceof errors.JOSEError) throw new TokenError(error.code);
      throw new TokenError("malformed");
    }
    const { sub, role, scopes, sid, exp, iat } = payload as Record<string, unknown>;
    // jose checks iat only with maxTokenAge, and then only its age: both bounds are checked here.
    if (typeof iat !== "number" || typeof exp !== "number") {
      throw new TokenError("iat or exp is not a number");
    }
    if (iat > clock.now() / 1000 + clockSkewSeconds) throw new TokenError("issued in the future");
    if (exp - iat > accessTtlSeconds + clockSkewSeconds) {
      throw new TokenError(`lifetime of ${exp - iat} s is longer than the access TTL`);
    }
    if (typeof sub !== "string" || !isRole(role)) {
      throw new TokenError("claims sub and role are missing or wrong");
    }
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string")) {
      throw new TokenError("claim scopes is not a list of strings");
    }
    return {
      userId: sub,
      role,
      scopes,
      sessionId: typeof sid === "string" ? sid : undefined,
      passwordChangeRequired: payload[PASSWORD_CHANGE_CLAIM] === true,
      expiresAt: exp * 1000,
    };
  };
}

/** Imports the Ed25519 signing keys of a JWKS; keys of any other kind are skipped, never trusted. */
export async function importVerificationKeys(jwks: readonly JWK[]): Promise<Map<string, CryptoKey>> {
  const out = new Map<string, CryptoKey>();
  for (const jwk of jwks) {
    if (
      jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || typeof jwk.kid !== "string"
    ) {
      continue;
    }
    if (
      (jwk.alg !== undefined && jwk.alg !== ACCESS_TOKEN_ALG) || (jwk.use !== undefined && jwk.use !== "sig")
    ) {
      continue;
    }
    // Only the public members: a JWKS that carried `d` must not make us hold a private key.
    const key = await importJWK({ kty: "OKP", crv: "Ed25519", x: jwk.x }, ACCESS_TOKEN_ALG);
    out.set(jwk.kid, key as CryptoKey);
  }
  return out;
}

/** A fixed set of keys, for tests and for tools that were handed a JWKS. */
export async function staticJwks(jwks: readonly JWK[]): Promise<JwksSource> {
  const keys = await importVerificationKeys(jwks);
  return { keyFor: (kid) => Promise.resolve(keys.get(kid)) };
}

export interface RemoteJwksOptions {
  /** The auth service's /.well-known/jwks.json. */
  url: string;
  clock: Clock;
  /** How long a fetched set is used before it is fetched again. */
  cacheSeconds: number;
  /** An unknown kid refetches at most this often, so junk tokens cannot hammer the auth service. */
  minRefetchMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The auth service's JWKS fetched over HTTP, cached, and refetched when a new kid appears. */
export function remoteJwks(options: RemoteJwksOptions): JwksSource {
  const { url, clock, cacheSeconds } = options;
  const minRefetchMs = options.minRefetchMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const doFetch = options.fetch ?? fetch;
  let keys = new Map<string, CryptoKey>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  const refresh = () => {
    inFlight ??= (async () => {
      attemptedAt = clock.now();
      try {
        const response = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!response.ok) throw new Error(`JWKS fetch from ${url} answered HTTP ${response.status}`);
        const body = await response.json() as { keys?: JWK[] };
        keys = await importVerificationKeys(Array.isArray(body.keys) ? body.keys : []);
        fetchedAt = clock.now();
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  return {
    async keyFor(kid) {
      const now = clock.now();
      const stale = now - fetchedAt > cacheSeconds * 1000 || !keys.has(kid);
      // Failed or recent attempts wait minRefetchMs, so neither junk kids nor an outage cause a fetch per call.
      if (stale && (inFlight || now - attemptedAt >= minRefetchMs)) {
        try {
          await refresh();
        } catch (error) {
          // Keep verifying with the keys we have; an outage of the auth service must not log everyone out.
          if (keys.size === 0) {
            throw new KeysUnavailableError(`no verification keys: fetching ${url} failed`, { cause: error });
          }
        }
      }
      return keys.get(kid);
    },
  };
}
