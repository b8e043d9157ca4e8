/**
 * Issues access tokens: short-lived EdDSA JWTs that any service verifies locally
 * (server/authz/token_verifier.ts) with the published keys.
 */
import { SignJWT } from "jose";
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYPE, PASSWORD_CHANGE_CLAIM } from "../authz/token_verifier.ts";
import type { Role } from "./caller.ts";
import { randomToken } from "./secrets.ts";
import type { SigningKey } from "./signing_keys.ts";

export interface AccessTokenClaims {
  userId: string;
  role: Role;
  scopes: readonly string[];
  /** The refresh family, so a session's tokens can be told apart in logs. */
  sessionId?: string;
  /** The user must change their password first: the interceptor lets only a few methods through. */
  passwordChangeRequired?: boolean;
}

export interface IssuedAccessToken {
  token: string;
  expiresAt: number;
}

export async function signAccessToken(
  key: SigningKey,
  claims: AccessTokenClaims,
  options: { issuer: string; audience: string; ttlSeconds: number; now: number },
): Promise<IssuedAccessToken> {
  const iat = Math.floor(options.now / 1000);
  const exp = iat + options.ttlSeconds;
  const token = await new SignJWT({
    role: claims.role,
    scopes: [...claims.scopes],
    ...(claims.sessionId ? { sid: claims.sessionId } : {}),
    ...(claims.passwordChangeRequired ? { [PASSWORD_CHANGE_CLAIM]: true } : {}),
  })
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(claims.userId)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(randomToken(16))
    .sign(key.privateKey);
  return { token, expiresAt: exp * 1000 };
}
