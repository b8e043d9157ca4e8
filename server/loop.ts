/**
 * A background loop: runs one iteration, waits, repeats until its signal aborts.
 * A failed iteration is logged (at most once a minute per message) and the loop goes
 * on; it never swallows an error silently.
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
      let failed = false;
      try {
        await iteration(stop.signal);
      } catch (error) {
        if (stop.signal.aborted) break;
        failed = true;
        options.onFailure?.();
        log.error("loop iteration failed; retrying after the interval", { error });
      }
      // Kicked while it ran: it may have read its state before the change that kicked it, so it
      // runs again at once (a failed one still waits out the interval, however often it is kicked).
      if (kicked && !failed && !stop.signal.aborted) continue;
      wake = new AbortController();
      const either = AbortSignal.any([stop.signal, wake.signal]);
      await options.clock.sleep(options.intervalMs, either).catch(() => {});
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
