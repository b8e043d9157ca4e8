/**
 * The TUI's own notion of time (it may not import the server's): token refresh and
 * reconnect backoff ask a Clock, so tests move time forward instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(reasonOf(signal));
      const onAbort = () => {
        clearTimeout(timer);
        reject(reasonOf(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** A clock that stands still until a test calls `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: { wakeAt: number; wake: () => void }[] = [];
  #onSleep: (() => void)[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** How many sleeps are waiting. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  /** Resolves once at least `n` sleeps are waiting (a loop has reached its wait). */
  sleepers(n = 1): Promise<void> {
    if (this.#sleepers.length >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.#sleepers.length >= n) resolve();
        else this.#onSleep.push(check);
      };
      this.#onSleep.push(check);
    });
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(reasonOf(signal));
      const sleeper = {
        wakeAt: this.#now + Math.max(0, ms),
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(reasonOf(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
      for (const check of this.#onSleep.splice(0)) check();
    });
  }

  /** Moves time forward by `ms` and wakes every sleeper that is due. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.wakeAt <= this.#now).sort((a, b) => a.wakeAt - b.wakeAt);
    this.#sleepers = this.#sleepers.filter((s) => s.wakeAt > this.#now);
    for (const sleeper of due) sleeper.wake();
  }
}
