/**
 * A background loop: runs one iteration, waits, repeats until its signal aborts. The wait
 * is the interval, unless the iteration returns a NextRun to choose it (the scheduler waits
 * for its next due tick so). A failed iteration is logged (at most once a minute per
 * message) and the loop goes on; it never swallows an error silently.
 */
import type { Clock } from "./clock.ts";
import { type Logger, rateLimitedLogger } from "./log.ts";

export interface Loop {
  /** Resolves when the loop has stopped. */
  readonly done: Promise<void>;
  /** Runs an iteration now instead of waiting out the interval (or another at once, if one is running). */
  kick(): void;
  stop(): Promise<void>;
}

/**
 * What an iteration returns to choose when the next one runs instead of after the interval. A
 * marker, not a number: iterations that return a count (the lease reaper's) keep the interval.
 */
export class NextRun {
  private constructor(readonly kind: "after" | "at", readonly ms: number) {}

  /** `ms` after the iteration ends; 0 or less runs the next one at once. */
  static after(ms: number): NextRun {
    return new NextRun("after", ms);
  }

  /** At `time` on the loop's clock, reckoned right before it sleeps; a time passed runs the next one at once. */
  static at(time: number): NextRun {
    return new NextRun("at", time);
  }

  /** The wait before the next iteration, the clock reading `now`. */
  waitFrom(now: number): number {
    return this.kind === "at" ? this.ms - now : this.ms;
  }
}

export function startLoop(
  name: string,
  options: { intervalMs: number; clock: Clock; log: Logger; onFailure?: () => void },
  iteration: (signal: AbortSignal) => Promise<unknown>,
): Loop {
  const stop = new AbortController();
  const log = rateLimitedLogger(options.log.child({ loop: name }), 60_000, () => options.clock.now());
  let wake: AbortController | undefined;
  /** Set by kick(), cleared as an iteration begins: a kick during an iteration is not lost. */
  let kicked = false;
  const done = (async () => {
    while (!stop.signal.aborted) {
      kicked = false;
      /** What the iteration chose; a failed one chose nothing and waits out the interval. */
      let next: NextRun | undefined;
      let failed = false;
      try {
        const returned = await iteration(stop.signal);
        if (returned instanceof NextRun) next = returned;
      } catch (error) {
        if (stop.signal.aborted) break;
        failed = true;
        options.onFailure?.();
        log.error("loop iteration failed; retrying after the interval", { error });
      }
      // Kicked while it ran: it may have read its state before the change that kicked it, so it
      // runs again at once (a failed one still waits out the interval, however often it is kicked).
      if (kicked && !failed && !stop.signal.aborted) continue;
      // Reckoned from the clock right before sleeping: time that passed since the iteration chose counts.
      const wait = next ? next.waitFrom(options.clock.now()) : options.intervalMs;
      if (next && wait <= 0) continue;
      wake = new AbortController();
      const either = AbortSignal.any([stop.signal, wake.signal]);
      await options.clock.sleep(wait, either).catch(() => {});
    }
  })();
  return {
    done,
    kick: () => {
      kicked = true;
      wake?.abort();
    },
    async stop() {
      stop.abort();
      await done;
    },
  };
}
