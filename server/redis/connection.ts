/**
 * The one way taskmesh opens a Redis connection: reconnects back off up to a cap instead of
 * hammering a restarting server, commands fail after a bounded number of retries instead of
 * queueing forever, and connection changes are logged without flooding the log.
 */
import { Redis } from "ioredis";
import { type Logger, rateLimitedLogger } from "../log.ts";

export type { Redis };

export interface ConnectRedisOptions {
  log: Logger;
  /** Prepended to every key ioredis sends; tests use one per test. */
  keyPrefix?: string;
  /** Shown by CLIENT LIST, so operators can tell taskmesh's connections apart. */
  name?: string;
}

/** First reconnect delay; each further attempt doubles it up to RECONNECT_CAP_MS. */
export const RECONNECT_BASE_MS = 50;
export const RECONNECT_CAP_MS = 5_000;
/**
 * A command with no reply after this long fails ("Command timed out"). Without it a command
 * sent into a connection that went silent (a partition, a paused server) waits for ever.
 * No command taskmesh sends blocks on the server side, so a healthy Redis is far faster.
 */
export const COMMAND_TIMEOUT_MS = 5_000;
/** How often the same connection message may be logged. */
const LOG_INTERVAL_MS = 30_000;

/** The delay before reconnect attempt `attempt` (1-based), with jitter so instances do not reconnect in step. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(attempt - 1, 20));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export function connectRedis(url: string, options: ConnectRedisOptions): Redis {
  const log = rateLimitedLogger(
    options.log.child({ component: "redis", ...(options.name ? { connection: options.name } : {}) }),
    LOG_INTERVAL_MS,
  );
  const redis = new Redis(url, {
    keyPrefix: options.keyPrefix,
    connectionName: options.name,
    connectTimeout: 5_000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    // A command waits through at most this many reconnects, then fails so the caller can fall back.
    maxRetriesPerRequest: 3,
    retryStrategy: (attempt) => reconnectDelay(attempt),
  });
  // The URL may carry a password: log only where it points.
  const target = redactUrl(url);
  redis.on("ready", () => log.info("redis connected", { target }));
  redis.on("close", () => log.warn("redis connection closed", { target }));
  redis.on("reconnecting", (delayMs: number) => log.info("redis reconnecting", { target, delayMs }));
  redis.on("end", () => log.info("redis connection ended", { target }));
  // Without a listener ioredis prints every error to the console itself.
  redis.on("error", (error: Error) => log.warn("redis error", { target, error: error.message }));
  return redis;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return "(unparseable url)";
  }
}

/** True when Redis answers PING within `timeoutMs`; never waits longer, never throws. */
export function pingRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    redis.ping().then(
      (reply) => {
        clearTimeout(timer);
        resolve(reply === "PONG");
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

/**
 * Connects once to `url` and PINGs, without retries and without logging, and says why
 * not when that fails: the start of a server checks REDIS_URL with it, so a wrong host or
 * port is one clear line rather than a stream of reconnect warnings and a stack trace.
 */
export async function checkRedisUrl(url: string, timeoutMs = 5_000): Promise<string | undefined> {
  let lastError: string | undefined;
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on("error", (error: Error) => lastError ??= error.message);
  try {
    await probe.connect();
    const reply = await probe.ping();
    return reply === "PONG" ? undefined : `it answered PING with ${JSON.stringify(reply)}`;
  } catch (error) {
    return lastError ?? (error as Error).message;
  } finally {
    probe.disconnect();
  }
}

/** Where hot-path state lives: a Redis server, or (REDIS_URL unset) the in-memory broker. */
export type RedisMode = { kind: "redis"; client: Redis; url: string } | { kind: "embedded" };

export function openRedisMode(url: string | undefined, log: Logger): RedisMode {
  if (!url) return { kind: "embedded" };
  return { kind: "redis", client: connectRedis(url, { log, name: "taskmesh" }), url };
}

const REDIS_DOWN_MESSAGES = [
  /^Connection is closed\.?$/,
  /^Command timed out/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  /^connect (ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH)/,
];

/**
 * True when `error` (or one of its causes) is ioredis saying Redis could not be reached or
 * did not answer, rather than that a command was wrong: the caller should retry shortly.
 */
export function isRedisUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error.name === "MaxRetriesPerRequestError") return true;
  if (REDIS_DOWN_MESSAGES.some((re) => re.test(error.message))) return true;
  return isRedisUnavailable(error.cause, depth + 1);
}
