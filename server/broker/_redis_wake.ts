/**
 * Wake-ups between server instances over Redis pub/sub. A connection that has
 * subscribed can run nothing else, so listening uses its own connection: the one the
 * caller gives, or a duplicate of the command connection that this helper owns and
 * closes. One SUBSCRIBE serves every listener of the broker.
 */
import { type Logger, rateLimitedLogger } from "../log.ts";
import type { RedisClient } from "./_redis_scripts.ts";

export class RedisWake {
  readonly #source: RedisClient;
  readonly #given?: RedisClient;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #listeners = new Set<(queue: string) => void>();
  #subscriber?: RedisClient;
  #subscribed?: Promise<void>;
  readonly #onMessage = (channel: string, message: string) => {
    if (channel !== this.#channel) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.#log.error("a broker subscriber failed", { queue: message, error });
      }
    }
  };

  constructor(options: { source: RedisClient; given?: RedisClient; channel: string; log: Logger }) {
    this.#source = options.source;
    this.#given = options.given;
    this.#channel = options.channel;
    this.#log = rateLimitedLogger(options.log, 30_000);
  }

  notify(queue: string): Promise<void> {
    return this.#source.publish(this.#channel, queue).then(() => {});
  }

  async subscribe(listener: (queue: string) => void): Promise<() => Promise<void>> {
    // Wrapped so the same function subscribed twice is two subscriptions.
    const own = (queue: string) => listener(queue);
    this.#listeners.add(own);
    try {
      await (this.#subscribed ??= this.#start());
    } catch (error) {
      this.#listeners.delete(own);
      this.#subscribed = undefined;
      throw error;
    }
    // The channel stays subscribed until close: unsubscribing and resubscribing on one
    // connection could reorder, and an idle subscription costs nothing.
    return () => {
      this.#listeners.delete(own);
      return Promise.resolve();
    };
  }

  async #start(): Promise<void> {
    let subscriber = this.#subscriber;
    if (!subscriber) {
      subscriber = this.#given ?? this.#source.duplicate();
      if (!this.#given) {
        subscriber.on(
          "error",
          (error: Error) => this.#log.warn("broker subscriber error", { error: error.message }),
        );
      }
      subscriber.on("message", this.#onMessage);
      this.#subscriber = subscriber;
    }
    // Resolves once Redis confirmed: a notify sent after this is delivered to us.
    await subscriber.subscribe(this.#channel);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    const subscriber = this.#subscriber;
    if (!subscriber) return;
    this.#subscriber = undefined;
    this.#subscribed = undefined;
    subscriber.off("message", this.#onMessage);
    if (this.#given) {
      await subscriber.unsubscribe(this.#channel).catch((error: Error) =>
        this.#log.warn("broker could not unsubscribe", { error: error.message })
      );
      return;
    }
    try {
      await subscriber.quit();
    } catch {
      // Already closed or unreachable: drop the socket instead of waiting for it.
      subscriber.disconnect();
    }
  }
}
