/**
 * One store per live stream. A store lists (List…), watches (Watch…) and reduces the
 * events into its state; when the stream drops it says so, waits (capped exponential
 * backoff with jitter) and starts again from a fresh list, so what the operator sees
 * is never a stale mix. The watch is opened before the list is read, and events that
 * arrive meanwhile are applied on top of it, so nothing in between is missed.
 *
 * Views read a store through `subscribe`/`state` (useSyncExternalStore); events that
 * arrive together are reduced and rendered together.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { describeError } from "./clients.ts";
import { type Clock, systemClock } from "./clock.ts";

/** What a reducer returns when its state can no longer be trusted (the server dropped events). */
export const RESYNC: unique symbol = Symbol("resync");

class Resync extends Error {
  constructor() {
    super("the list is read again");
  }
}

export interface LiveSource<S, E> {
  /** The stream's name in the status line ("queues"). */
  name: string;
  /** The state before anything was listed. */
  empty: S;
  /** The full read a (re)connect starts from; `previous` carries what should survive it (history). */
  list(signal: AbortSignal, previous: S): Promise<S>;
  /** The live stream. */
  watch(signal: AbortSignal): AsyncIterable<E>;
  /** Applies events in arrival order; RESYNC throws the state away and lists again. */
  reduce(state: S, events: readonly E[]): S | typeof RESYNC;
}

/**
 * `staleSince` (clock ms) is set while the state on screen is what the last live
 * stream left, and the stream is down: the figures may no longer be true.
 */
export type Connection =
  | { kind: "connecting"; attempt: number; staleSince?: number }
  | { kind: "live"; since: number }
  | { kind: "retrying"; attempt: number; error: string; retryAt: number; staleSince?: number }
  | { kind: "denied"; error: string }
  | { kind: "stopped" };

export interface LiveStoreOptions {
  clock?: Clock;
  backoff?: BackoffOptions;
  random?: () => number;
  /** Called when the server says the credential is no longer good (refresh it). */
  onUnauthenticated?: () => Promise<void>;
  /** Most events held while the first list is read; beyond it the list is read again. */
  maxBuffered?: number;
}

class StreamEnded extends Error {
  constructor() {
    super("the server ended the stream");
  }
}

class Restart extends Error {}

export class LiveStore<S, E> {
  readonly name: string;
  #source: LiveSource<S, E>;
  #options: LiveStoreOptions;
  #clock: Clock;
  #state: S;
  #connection: Connection = { kind: "stopped" };
  #listeners = new Set<() => void>();
  #pending: E[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #stop: AbortController | undefined;
  #attempt: AbortController | undefined;
  #loop: Promise<void> | undefined;
  /** Counts reconnects (attempts after the first): the status line and tests read it. */
  reconnects = 0;

  constructor(source: LiveSource<S, E>, options: LiveStoreOptions = {}) {
    this.name = source.name;
    this.#source = source;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#state = source.empty;
  }

  get state(): S {
    return this.#state;
  }

  get connection(): Connection {
    return this.#connection;
  }

  subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): S => this.#state;
  getConnection = (): Connection => this.#connection;

  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    this.#loop = this.#run(this.#stop.signal);
  }

  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#loop;
    this.#loop = undefined;
    clearTimeout(this.#flushTimer);
    this.#setConnection({ kind: "stopped" });
  }

  /** Lists and watches again now, without backoff (a filter changed, or after an action). */
  restart(source?: Partial<LiveSource<S, E>>): void {
    if (source) {
      // What was listed under the old source no longer applies.
      this.#source = { ...this.#source, ...source };
      this.#pending = [];
      this.#state = this.#source.empty;
      this.#emit();
    }
    this.#attempt?.abort(new Restart());
  }

  /** A local change ahead of the server's word (e.g. purged tasks, which no stream reports). */
  update(change: (state: S) => S): void {
    this.#state = change(this.#state);
    this.#emit();
  }

  async #run(stop: AbortSignal): Promise<void> {
    let failures = 0;
    let attempts = 0;
    let staleSince: number | undefined;
    while (!stop.aborted) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      const signal = AbortSignal.any([stop, attempt.signal]);
      if (attempts++ > 0) this.reconnects++;
      this.#setConnection({ kind: "connecting", attempt: failures + 1, staleSince });
      try {
        await this.#session(signal, () => {
          failures = 0;
          staleSince = undefined;
        });
      } catch (error) {
        const wasLive = this.#connection.kind === "live";
        attempt.abort();
        if (stop.aborted) break;
        if (error instanceof Restart || attempt.signal.reason instanceof Restart) continue;
        if (error instanceof Resync) continue;
        // The state stays on screen as the last live stream left it: from now on it may be stale.
        if (wasLive) staleSince ??= this.#clock.now();
        if (error instanceof ConnectError) {
          if (error.code === Code.PermissionDenied || error.code === Code.Unimplemented) {
            this.#setConnection({ kind: "denied", error: describeError(error) });
            return;
          }
          if (error.code === Code.Unauthenticated && this.#options.onUnauthenticated) {
            await this.#options.onUnauthenticated().catch(() => {});
          }
        }
        const delay = backoffDelay(failures, this.#options.backoff, this.#options.random);
        failures++;
        this.#setConnection({
          kind: "retrying",
          attempt: failures,
          error: describeError(error),
          retryAt: this.#clock.now() + delay,
          staleSince,
        });
        // A fresh controller: restart() cuts the wait short; the aborted attempt must not.
        const wait = new AbortController();
        this.#attempt = wait;
        try {
          await this.#clock.sleep(delay, AbortSignal.any([stop, wait.signal]));
        } catch {
          // Stopped or restarted while waiting: the loop condition decides.
        }
      }
    }
  }

  /** One connection: watch, list, then apply events until the stream ends or fails. */
  async #session(signal: AbortSignal, onLive: () => void): Promise<never> {
    const max = this.#options.maxBuffered ?? 10_000;
    const buffered: E[] = [];
    let live = false;
    let overflowed = false;
    const events = this.#source.watch(signal)[Symbol.asyncIterator]();
    const pump = (async () => {
      while (true) {
        const next = await events.next();
        if (next.done) throw new StreamEnded();
        if (live) this.#enqueue(next.value);
        else if (buffered.length < max) buffered.push(next.value);
        else overflowed = true;
      }
    })();
    pump.catch(() => {});
    const listed = await Promise.race([this.#source.list(signal, this.#state), pump]);
    if (overflowed) throw new Resync();
    const reduced = buffered.length ? this.#source.reduce(listed, buffered) : listed;
    if (reduced === RESYNC) throw new Resync();
    this.#pending = [];
    this.#state = reduced;
    live = true;
    onLive();
    this.#setConnection({ kind: "live", since: this.#clock.now() });
    return await pump;
  }

  #enqueue(event: E): void {
    this.#pending.push(event);
    // Events that arrive in one burst are reduced and rendered once.
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      const events = this.#pending;
      this.#pending = [];
      if (events.length === 0) return;
      const next = this.#source.reduce(this.#state, events);
      if (next === RESYNC) {
        this.restart();
        return;
      }
      this.#state = next;
      this.#emit();
    }, 0);
  }

  #setConnection(connection: Connection): void {
    this.#connection = connection;
    this.#emit();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}
