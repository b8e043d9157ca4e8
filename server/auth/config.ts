/**
 * The auth domain's settings: token lifetimes, issuer and audience, signing-key
 * protection, where a remote JWKS lives, and the rate limits on the public methods.
 */
import type { EnvReader } from "../config.ts";
import { type RateRule, readRateRule } from "../ratelimit/rule.ts";

export interface AuthRateLimits {
  /** Login attempts per client address and email. */
  loginIpEmail: RateRule;
  /** Login attempts per client address, whatever the email. */
  loginIp: RateRule;
  /** Registrations per client address. */
  registerIp: RateRule;
  /** Verification mails per email. */
  resendEmail: RateRule;
  /** Reset mails per email. */
  resetEmail: RateRule;
}

export interface AuthConfig {
  /** `iss` of every access token, checked on verification. */
  issuer: string;
  /** `aud` of every access token, checked on verification. */
  audience: string;
  /** Access-token lifetime; at most 15 minutes so a leaked token dies quickly. */
  accessTtlSeconds: number;
  /** A refresh token not used for this long stops working. */
  refreshIdleSeconds: number;
  /** A session (refresh family) ends this long after login, however active. */
  refreshAbsoluteSeconds: number;
  /** How long the token just rotated away may still be presented once (two tabs refreshing together). */
  refreshReuseGraceSeconds: number;
  /** Tolerance for clocks that disagree, when checking exp and nbf. */
  clockSkewSeconds: number;
  /** Lifetime of an email verification token. */
  verificationTtlSeconds: number;
  /** Lifetime of a password reset token. */
  resetTtlSeconds: number;
  /** When set, private signing keys are stored encrypted (AES-256-GCM) under a key derived from it. */
  keyEncryptionSecret?: string;
  /** When set, tokens are verified with keys fetched from this JWKS URL instead of read from Postgres. */
  jwksUrl?: string;
  /** How long a fetched JWKS is trusted before it is fetched again. */
  jwksCacheSeconds: number;
  /** Whether Login refuses accounts whose email is not verified yet. */
  requireVerifiedEmail: boolean;
  /** The email of the admin created on an empty database at start. */
  firstAdminEmail: string;
  rateLimits: AuthRateLimits;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const DEFAULT_AUTH_RATE_LIMITS: AuthRateLimits = {
  loginIpEmail: { limit: 10, periodMs: MINUTE },
  loginIp: { limit: 30, periodMs: MINUTE },
  registerIp: { limit: 5, periodMs: MINUTE },
  resendEmail: { limit: 3, periodMs: HOUR },
  resetEmail: { limit: 3, periodMs: HOUR },
};

export function readAuthConfig(r: EnvReader): AuthConfig {
  const day = 86_400;
  const refreshIdleSeconds = r.int("TASKMESH_AUTH_REFRESH_IDLE_SECONDS", 7 * day, 60, 365 * day);
  const refreshAbsoluteSeconds = r.int("TASKMESH_AUTH_REFRESH_ABSOLUTE_SECONDS", 30 * day, 60, 365 * day);
  if (refreshIdleSeconds > refreshAbsoluteSeconds) {
    r.problem(
      "TASKMESH_AUTH_REFRESH_IDLE_SECONDS must not exceed TASKMESH_AUTH_REFRESH_ABSOLUTE_SECONDS: lower the idle lifetime",
    );
  }
  const keyEncryptionSecret = r.optionalString("TASKMESH_AUTH_KEY_SECRET");
  if (keyEncryptionSecret !== undefined && keyEncryptionSecret.length < 32) {
    r.problem(
      "TASKMESH_AUTH_KEY_SECRET must be at least 32 characters: generate one with `openssl rand -base64 48`",
    );
  }
  return {
    issuer: r.string("TASKMESH_AUTH_ISSUER", "taskmesh"),
    audience: r.string("TASKMESH_AUTH_AUDIENCE", "taskmesh"),
    accessTtlSeconds: r.int("TASKMESH_AUTH_ACCESS_TTL_SECONDS", 900, 30, 900),
    refreshIdleSeconds,
    refreshAbsoluteSeconds,
    refreshReuseGraceSeconds: r.int("TASKMESH_AUTH_REFRESH_REUSE_GRACE_SECONDS", 10, 0, 120),
    clockSkewSeconds: r.int("TASKMESH_AUTH_CLOCK_SKEW_SECONDS", 10, 0, 300),
    verificationTtlSeconds: r.int("TASKMESH_AUTH_VERIFICATION_TTL_SECONDS", day, 60, day),
    resetTtlSeconds: r.int("TASKMESH_AUTH_RESET_TTL_SECONDS", 3600, 60, 3600),
    keyEncryptionSecret,
    jwksUrl: r.url("TASKMESH_AUTH_JWKS_URL", ["http:", "https:"]),
    jwksCacheSeconds: r.int("TASKMESH_AUTH_JWKS_CACHE_SECONDS", 300, 10, 86_400),
    requireVerifiedEmail: r.bool("TASKMESH_AUTH_REQUIRE_VERIFIED_EMAIL", true),
    firstAdminEmail: r.string("TASKMESH_AUTH_FIRST_ADMIN_EMAIL", "admin@taskmesh.localhost"),
    rateLimits: {
      loginIpEmail: readRateRule(r, "TASKMESH_RATE_LOGIN_IP_EMAIL", DEFAULT_AUTH_RATE_LIMITS.loginIpEmail),
      loginIp: readRateRule(r, "TASKMESH_RATE_LOGIN_IP", DEFAULT_AUTH_RATE_LIMITS.loginIp),
      registerIp: readRateRule(r, "TASKMESH_RATE_REGISTER_IP", DEFAULT_AUTH_RATE_LIMITS.registerIp),
      resendEmail: readRateRule(r, "TASKMESH_RATE_RESEND_EMAIL", DEFAULT_AUTH_RATE_LIMITS.resendEmail),
      resetEmail: readRateRule(r, "TASKMESH_RATE_RESET_EMAIL", DEFAULT_AUTH_RATE_LIMITS.resetEmail),
    },
  };
}
