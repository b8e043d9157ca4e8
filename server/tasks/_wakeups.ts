/**
 * This process's dispatchers waiting for work: a dispatcher whose claim found nothing
 * waits here until its queues may have work (an enqueue, a promotion, a broker
 * notification from another instance), its idle wait passes, or its stream ends. It arms
 * its wake before it claims, so a wake that comes while its claim is out is kept: a claim
 * that missed the new task (sent before it was added) is followed by another at once,
 * not by the idle wait.
 */
import type { Clock } from "../clock.ts";

/** A dispatcher's wake, armed before its claim. */
export interface ArmedWake {
  /**
   * Resolves at once if one of its queues was woken since it was armed; else at the next
   * wake, after `ms`, or when the signal aborts. Disarms it.
   */
  wait(ms: number, signal: AbortSignal): Promise<void>;
  /** Stops listening: the claim found work. */
  disarm(): void;
}

interface Waiter {
  queues: readonly string[];
  wake(): void;
}

/** The reason a wait's own timer is cancelled with: a ready one, not a DOMException built each time. */
const DONE = new Error("woken or stopped");

export class Wakeups {
  readonly #waiters = new Set<Waiter>();

  constructor(readonly clock: Clock) {}

  /** Listens for a wake of `queues` from now on. */
  arm(queues: readonly string[]): ArmedWake {
    let woken = false;
    let resolve: (() => void) | undefined;
    const waiter: Waiter = {
      queues,
      wake: () => {
        woken = true;
        resolve?.();
      },
    };
    this.#waiters.add(waiter);
    return {
      wait: async (ms, signal) => {
        try {
          if (woken || signal.aborted) return;
          const timer = new AbortController();
          const wake = new Promise<void>((r) => resolve = r);
          try {
            await Promise.race([
              wake,
              this.clock.sleep(ms, AbortSignal.any([signal, timer.signal])).catch(() => {}),
            ]);
          } finally {
            timer.abort(DONE);
          }
        } finally {
          this.#waiters.delete(waiter);
        }
      },
      disarm: () => void this.#waiters.delete(waiter),
    };
  }

  /** Wakes the dispatchers waiting on the queue (on any queue when undefined). */
  wake(queue: string | undefined): void {
    for (const w of this.#waiters) if (queue === undefined || w.queues.includes(queue)) w.wake();
  }

  /** Armed or waiting dispatchers (for tests of the bound). */
  get armed(): number {
    return this.#waiters.size;
  }
}
