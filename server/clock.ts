/**
 * Time for everything in taskmesh comes from a Clock so that tests advance time
 * instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time, or rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/**
 * The longest delay a timer takes: past it, setTimeout fires after 1 ms, and a loop that
 * sleeps "forever" would spin. A longer sleep wakes early instead; callers loop anyway.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A clock that moves only when a test calls `advance` or `set`. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  /** How many sleeps are waiting; lets a test wait until a loop is parked. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), resolve };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(abortError(signal!));
      };
      sleeper.resolve = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Moves time forward and wakes every sleeper whose time has come, in order. */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  set(time: number): void {
    this.#now = time;
    const due = this.#sleepers.filter((s) => s.at <= time).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > time);
    for (const s of due) s.resolve();
  }
}
