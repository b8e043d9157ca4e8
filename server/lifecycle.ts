/**
 * Graceful shutdown, in the order load balancers and clients need it:
 *   1. health flips to NOT_SERVING (the caller does this first);
 *   2. drain: new calls are refused with Unavailable, open server streams end cleanly;
 *   3. in-flight unary calls get a grace period to finish;
 *   4. whatever is left is aborted through the router's shutdown signal, and gets a
 *      moment to write its final status before connections are closed.
 * Health calls stay answerable until the end so watchers see NOT_SERVING.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Clock } from "./clock.ts";

const ALWAYS_ALLOWED = "grpc.health.v1.Health";

class Counter {
  #n = 0;
  #waiters: Array<() => void> = [];
  get value() {
    return this.#n;
  }
  up() {
    this.#n++;
  }
  down() {
    if (--this.#n === 0) { for (const wake of this.#waiters.splice(0)) wake(); }
  }
  /** Resolves true once the count is zero, false when `ms` of the clock pass first. */
  async zero(ms: number, clock: Clock): Promise<boolean> {
    if (this.#n === 0) return true;
    const timer = new AbortController();
    try {
      return await Promise.race([
        new Promise<boolean>((resolve) => this.#waiters.push(() => resolve(true))),
        clock.sleep(ms, timer.signal).then(() => false),
      ]);
    } finally {
      timer.abort();
    }
  }
}

export class Lifecycle {
  readonly #drain = new AbortController();
  /** Aborted last; handed to the Connect router as `shutdownSignal`. */
  readonly #shutdown = new AbortController();
  readonly #unary = new Counter();
  readonly #all = new Counter();

  get draining(): boolean {
    return this.#drain.signal.aborted;
  }

  /** Aborted when draining begins. */
  get drainSignal(): AbortSignal {
    return this.#drain.signal;
  }

  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
  }

  get inFlightUnary(): number {
    return this.#unary.value;
  }

  beginDrain(): void {
    this.#drain.abort();
  }

  /** Resolves true when no unary call is in flight, false if the grace period ran out first. */
  waitForUnary(graceMs: number, clock: Clock): Promise<boolean> {
    return this.#unary.zero(graceMs, clock);
  }

  /** Resolves true when no call of any kind is in flight, false after `ms`. */
  waitForAll(ms: number, clock: Clock): Promise<boolean> {
    return this.#all.zero(ms, clock);
  }

  abortRemaining(): void {
    this.#shutdown.abort(
      new ConnectError("server is shutting down: retry on another instance", Code.Unavailable),
    );
  }

  interceptor(): Interceptor {
    return (next) => async (req) => {
      const exempt = req.service.typeName === ALWAYS_ALLOWED;
      if (this.draining && !exempt) {
        throw new ConnectError("server is shutting down: retry on another instance", Code.Unavailable);
      }
      this.#all.up();
      if (!req.stream) this.#unary.up();
      let res;
      try {
        res = await next(req);
      } catch (error) {
        this.#all.down();
        throw error;
      } finally {
        if (!req.stream) this.#unary.down();
      }
      if (!res.stream) {
        this.#all.down();
        return res;
      }
      const source = exempt ? res.message : endOnSignal(res.message, this.#drain.signal);
      const all = this.#all;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* source;
          } finally {
            all.down();
          }
        })(),
      };
    };
  }
}

/**
 * Passes a stream through until the signal aborts, then ends it cleanly (status OK).
 *
 * Each step waits on a promise of its own that the abort listener settles: racing every
 * `it.next()` against one long-lived "aborted" promise would leave a reaction on it per
 * message, and each reaction holds that message, for as long as the stream lives (a
 * worker's stream: every task it was ever assigned).
 */
export async function* endOnSignal<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let wake: ((step: "aborted") => void) | undefined;
  const onAbort = () => wake?.("aborted");
  signal.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  try {
    while (!signal.aborted) {
      const step = await new Promise<IteratorResult<T> | "aborted">((resolve, reject) => {
        wake = resolve;
        it.next().then(resolve, reject);
      });
      wake = undefined;
      if (step === "aborted") return;
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Not awaited: a generator parked on an await only sees return() once that await settles,
    // which the router's shutdown signal guarantees.
    if (!finished) it.return?.().catch(() => {});
  }
}
