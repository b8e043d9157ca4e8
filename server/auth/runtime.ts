/**
 * What the auth service and the authentication interceptor share in one process: the
 * signing-key store, the token verifier, the API-key lookup, the rate limiter and the
 * mail sender. Built once per Deps, so the service and the interceptor agree.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Deps } from "../deps.ts";
import type { HttpRoute } from "../http_routes.ts";
import type { Logger } from "../log.ts";
import { type EmailMessage, type MailConfig, sendEmail } from "../../mail/mod.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import { FallbackRateLimiter, RedisRateLimiter } from "../ratelimit/redis_limiter.ts";
import type { RedisMode } from "../redis/connection.ts";
import { createAuthInterceptor } from "../authz/interceptor.ts";
import { OpenStreams } from "../authz/open_streams.ts";
import {
  createMemoryRevocationBus,
  createRedisRevocationBus,
  type Revocation,
  type RevocationBus,
} from "../authz/revocations.ts";
import { createTokenVerifier, remoteJwks, type TokenVerifier } from "../authz/token_verifier.ts";
import { VerifiedKeyCache } from "./api_key_cache.ts";
import { type ApiKeyAuthenticator, createApiKeyAuthenticator } from "./api_keys.ts";
import type { AuthConfig } from "./config.ts";
import { jwksRoute } from "./jwks_http.ts";
import type { MailQueue } from "./mail_queue.ts";
import { SigningKeyStore } from "./signing_keys.ts";
import type { AuditAction } from "./audit.ts";

export interface AuthRuntimeOptions {
  sql: Sql;
  clock: Clock;
  log: Logger;
  redis: RedisMode;
  auth: AuthConfig;
  mail: MailConfig;
  /** Base of the links in verification and reset mails. */
  publicUrl: string;
  /** Replaces the Redis-with-memory-fallback limiter (tests). */
  limiter?: RateLimiter;
  /** Prefix of rate-limit keys in Redis; tests give each test its own. */
  rateLimitPrefix?: string;
  /**
   * Replaces sendEmail. createProcessAuthRuntime sets it to the mail port (an enqueue into
   * the `emails` queue) when this process runs the task runtime; tests capture mails with it.
   */
  send?: (message: EmailMessage) => Promise<unknown>;
  /** How often open streams' credentials are checked again (server/authz/open_streams.ts). */
  streamRecheckMs?: number;
  /** Told of audited actions and rate-limit refusals, for /metrics (server/observability/auth_metrics.ts). */
  observer?: AuthObserver;
}

/** What /metrics counts of auth; auth only calls it, and it must be cheap (counters in memory). */
export interface AuthObserver {
  audited(action: AuditAction): void;
  /** A request a rate limit refused, by bucket ("login_ip", "register_ip"...: a fixed set). */
  refused(bucket: string): void;
}

/** The limiter, telling the observer of every refusal. */
function observedLimiter(limiter: RateLimiter, observer?: AuthObserver): RateLimiter {
  if (!observer) return limiter;
  return {
    async take(bucket, id, rule) {
      const decision = await limiter.take(bucket, id, rule);
      if (!decision.allowed) observer.refused(bucket);
      return decision;
    },
  };
}

export interface AuthRuntime {
  readonly options: AuthRuntimeOptions;
  readonly keys: SigningKeyStore;
  readonly limiter: RateLimiter;
  readonly verifyToken: TokenVerifier;
  readonly apiKeys: ApiKeyAuthenticator;
  /** Verified API keys kept in this process; the revocation bus empties what it reaches. */
  readonly apiKeyCache: VerifiedKeyCache;
  /** Where revocations are announced, to every instance (server/authz/revocations.ts). */
  readonly revocations: RevocationBus;
  /** This instance's streaming calls by credential: a revocation ends them. */
  readonly streams: OpenStreams;
  /** Announces a revocation that has committed; a bus that fails is logged, and the re-check covers it. */
  revoked(revocation: Revocation): Promise<void>;
  /** Starts hearing other instances' revocations (before the server listens). */
  start(): Promise<void>;
  /** Stops hearing them (at shutdown, after the last call). */
  close(): Promise<void>;
  /** The authentication interceptor for this process's router. */
  interceptor(): Interceptor;
  /** GET /.well-known/jwks.json. */
  jwksRoute: HttpRoute;
  /** Runs work after the response (mail), so answers take the same time whatever happens next. */
  background(what: string, work: () => Promise<void>): void;
  /** Resolves when every background job started so far has finished (tests, shutdown). */
  settled(): Promise<void>;
}

export function createAuthRuntime(options: AuthRuntimeOptions): AuthRuntime {
  const { sql, clock, log, auth } = options;
  const keys = new SigningKeyStore({
    sql,
    clock,
    log: log.child({ component: "signing_keys" }),
    accessTtlSeconds: auth.accessTtlSeconds,
    clockSkewSeconds: auth.clockSkewSeconds,
    encryptionSecret: auth.keyEncryptionSecret,
  });
  const limiter = observedLimiter(
    options.limiter ?? new FallbackRateLimiter({
      redis: options.redis.kind === "redis"
        ? new RedisRateLimiter({ redis: options.redis.client, clock, prefix: options.rateLimitPrefix })
        : undefined,
      clock,
      log: log.child({ component: "ratelimit" }),
    }),
    options.observer,
  );
  const verifyToken = createTokenVerifier({
    keys: auth.jwksUrl ? remoteJwks({ url: auth.jwksUrl, clock, cacheSeconds: auth.jwksCacheSeconds }) : keys,
    issuer: auth.issuer,
    audience: auth.audience,
    clock,
    clockSkewSeconds: auth.clockSkewSeconds,
    accessTtlSeconds: auth.accessTtlSeconds,
  });
  const pending = new Set<Promise<void>>();
  const busLog = log.child({ component: "revocations" });
  const revocations = options.redis.kind === "redis"
    ? createRedisRevocationBus({ redis: options.redis.client, log: busLog })
    : createMemoryRevocationBus(busLog);
  const apiKeyCache = new VerifiedKeyCache({ bus: revocations });
  const apiKeys = createApiKeyAuthenticator({ sql, clock, cache: apiKeyCache });
  const streams = new OpenStreams({
    bus: revocations,
    sql,
    clock,
    log: busLog,
    recheckMs: options.streamRecheckMs,
  });

  return {
    options,
    keys,
    limiter,
    verifyToken,
    apiKeys,
    apiKeyCache,
    revocations,
    streams,
    async revoked(revocation) {
      await revocations.announce(revocation).catch((error) =>
        busLog.error("could not announce a revocation: open streams end at the next re-check", { error })
      );
    },
    start: () => revocations.start(),
    async close() {
      streams.close();
      apiKeyCache.close();
      await revocations.close();
    },
    interceptor: () =>
      createAuthInterceptor({ verifyToken, apiKeys, streams, log: log.child({ component: "authz" }) }),
    jwksRoute: jwksRoute(keys),
    background(what, work) {
      const job = work().catch((error) => log.error(`${what} failed`, { error })).finally(() =>
        pending.delete(job)
      );
      pending.add(job);
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

/** Sends through the configured replacement or sendEmail. */
export function sendAuthMail(runtime: AuthRuntime, message: EmailMessage): Promise<unknown> {
  const { send, mail, log, clock } = runtime.options;
  return send ? send(message) : sendEmail({ mail, log, clock }, message);
}

/**
 * The one auth runtime of a process, built by the composition root (server/runtimes.ts):
 * the auth service and the app's interceptor share it. With `mails`, mails go through
 * that port (the task queue: retried, never lost) instead of SMTP.
 */
export function createProcessAuthRuntime(
  deps: Deps,
  mails?: MailQueue,
  observer?: AuthObserver,
): AuthRuntime {
  const { config } = deps;
  return createAuthRuntime({
    sql: deps.sql,
    clock: deps.clock,
    log: deps.log.child({ service: "auth" }),
    redis: deps.redis,
    auth: config.auth,
    mail: config.mail,
    publicUrl: config.server.publicUrl,
    send: mails ? (message) => mails.sendSealed(message) : undefined,
    observer,
  });
}
