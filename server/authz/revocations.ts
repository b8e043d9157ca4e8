/**
 * The revocation bus: the one place a revocation is announced. Revoking an API key,
 * disabling a user or signing sessions out is announced here after its transaction has
 * committed, and every instance hears it: over Redis pub/sub (`{auth}:revocations`,
 * server/redis/keys.ts) when REDIS_URL is set, in process in embedded mode. Open streams
 * (open_streams.ts) end on it; the verified API-key cache (server/auth/api_key_cache.ts)
 * forgets what it reaches.
 */
import type { Redis } from "ioredis";
import { type Logger, rateLimitedLogger } from "../log.ts";
import { DEFAULT_PREFIX, revocationChannel } from "../redis/keys.ts";

export type Revocation =
  /** The key was revoked. */
  | { kind: "api_key"; keyId: string }
  /** The user was disabled: their tokens and every key they own are dead. */
  | { kind: "user"; userId: string }
  /** Sessions were signed out: those families' access tokens (all of the user's without ids). */
  | { kind: "sessions"; userId: string; familyIds?: string[] }
  /** The user's role changed: what their API keys may do changed with it; their streams end. */
  | { kind: "role"; userId: string };

export type RevocationListener = (revocation: Revocation) => void;

export interface RevocationBus {
  /** Tells every instance, this one included; call it after the revocation has committed. */
  announce(revocation: Revocation): Promise<void>;
  /** Listens until the returned function is called. */
  subscribe(listener: RevocationListener): () => void;
  /**
   * Told `false` when this instance may be missing other instances' revocations (its
   * subscription dropped) and `true` once it hears them again; never told in embedded mode.
   * Whoever keeps credentials stops trusting what it kept meanwhile.
   */
  watchHearing(listener: (hearing: boolean) => void): () => void;
  /** Resolves once revocations from other instances are heard. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The revocation as sent, or undefined when the message is not one. */
export function parseRevocation(text: string): Revocation | undefined {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const str = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 64;
  if (value?.kind === "api_key" && str(value.keyId)) return { kind: "api_key", keyId: value.keyId };
  if (value?.kind === "user" && str(value.userId)) return { kind: "user", userId: value.userId };
  if (value?.kind === "role" && str(value.userId)) return { kind: "role", userId: value.userId };
  if (value?.kind === "sessions" && str(value.userId)) {
    const ids = value.familyIds;
    if (ids === undefined) return { kind: "sessions", userId: value.userId };
    if (Array.isArray(ids) && ids.every(str)) {
      return { kind: "sessions", userId: value.userId, familyIds: ids };
    }
  }
  return undefined;
}

class Listeners {
  readonly #set = new Set<RevocationListener>();
  constructor(readonly log: Logger) {}
  add(listener: RevocationListener): () => void {
    const own: RevocationListener = (r) => listener(r);
    this.#set.add(own);
    return () => void this.#set.delete(own);
  }
  emit(revocation: Revocation): void {
    for (const listener of [...this.#set]) {
      try {
        listener(revocation);
      } catch (error) {
        this.log.error("a revocation listener failed", { error });
      }
    }
  }
  clear(): void {
    this.#set.clear();
  }
}

/** Embedded mode: one process is the whole deployment. */
export function createMemoryRevocationBus(log: Logger): RevocationBus {
  const listeners = new Listeners(log);
  return {
    announce(revocation) {
      listeners.emit(revocation);
      return Promise.resolve();
    },
    subscribe: (listener) => listeners.add(listener),
    watchHearing: () => () => {},
    start: () => Promise.resolve(),
    close() {
      listeners.clear();
      return Promise.resolve();
    },
  };
}

/**
 * Redis pub/sub, listened to on a connection of its own (a subscribed connection runs
 * nothing else). An announcement reaches this instance's listeners at once as well, so a
 * Redis that is down delays the others (the periodic re-check catches them) but never
 * this one.
 */
export function createRedisRevocationBus(
  options: { redis: Redis; prefix?: string; log: Logger },
): RevocationBus {
  const { redis } = options;
  const channel = revocationChannel(options.prefix ?? DEFAULT_PREFIX);
  const log = rateLimitedLogger(options.log, 30_000);
  const listeners = new Listeners(options.log);
  let subscriber: Redis | undefined;
  let started: Promise<void> | undefined;
  const hearingListeners = new Set<(hearing: boolean) => void>();
  let deaf = false;
  const tell = (hearing: boolean) => {
    for (const listener of [...hearingListeners]) {
      try {
        listener(hearing);
      } catch (error) {
        options.log.error("a revocation hearing listener failed", { error });
      }
    }
  };
  // The subscriber's connection dropped: what is published until it is back is lost to us.
  const onClose = () => {
    if (deaf) return;
    deaf = true;
    log.warn("the revocation subscription dropped: cached credentials are not trusted until it is back");
    tell(false);
  };
  // Reconnected: ioredis subscribes again by itself; hearing resumes once Redis confirmed it.
  const onReady = () => {
    const s = subscriber;
    if (!deaf || !s) return;
    s.subscribe(channel).then(
      () => {
        if (subscriber !== s || !deaf) return;
        deaf = false;
        options.log.info("the revocation subscription is back");
        tell(true);
      },
      (error) => log.warn("could not subscribe to revocations again", { error: String(error) }),
    );
  };
  const onMessage = (from: string, text: string) => {
    if (from !== channel) return;
    const revocation = parseRevocation(text);
    if (revocation) listeners.emit(revocation);
    else log.warn("ignoring a malformed revocation message", { message: text.slice(0, 200) });
  };
  return {
    async announce(revocation) {
      listeners.emit(revocation);
      try {
        await redis.publish(channel, JSON.stringify(revocation));
      } catch (error) {
        log.warn("could not announce a revocation to the other instances: their re-check ends its streams", {
          error: String(error),
        });
      }
    },
    subscribe: (listener) => listeners.add(listener),
    watchHearing(listener) {
      hearingListeners.add(listener);
      return () => void hearingListeners.delete(listener);
    },
    start() {
      return started ??= (async () => {
        subscriber = redis.duplicate();
        subscriber.on(
          "error",
          (error: Error) => log.warn("revocation subscriber error", { error: error.message }),
        );
        subscriber.on("message", onMessage);
        // Resolves once Redis confirmed: an announcement sent after this reaches us.
        await subscriber.subscribe(channel);
        subscriber.on("close", onClose);
        subscriber.on("ready", onReady);
      })();
    },
    async close() {
      listeners.clear();
      hearingListeners.clear();
      const s = subscriber;
      subscriber = undefined;
      started = undefined;
      deaf = false;
      if (!s) return;
      s.off("message", onMessage);
      s.off("close", onClose);
      s.off("ready", onReady);
      try {
        await s.quit();
      } catch {
        s.disconnect();
      }
    },
  };
}
