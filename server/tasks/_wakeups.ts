/**
 * This process's dispatchers waiting for work: a dispatcher whose claim found nothing
 * waits here until its queues may have work (an enqueue, a promotion, a broker
 * notification from another instance), its idle wait passes, or its stream ends.
 */
import type { Clock } from "../clock.ts";

export class Wakeups {
  readonly #waiters = new Set<{ queues: readonly string[]; wake: () => void }>();

  constructor(readonly clock: Clock) {}

  /** Resolves when one of the queues may have work, after `ms`, or when the signal aborts. */
  async waitForWork(queues: readonly string[], ms: number, signal: AbortSignal): Promise<void> {
    const timer = new AbortController();
    let waiter!: { queues: readonly string[]; wake: () => void };
    const woken = new Promise<void>((resolve) => {
      waiter = { queues, wake: resolve };
      this.#waiters.add(waiter);
    });
    try {
      await Promise.race([
        woken,
        this.clock.sleep(ms, AbortSignal.any([signal, timer.signal])).catch(() => {}),
      ]);
    } finally {
      timer.abort();
      this.#waiters.delete(waiter);
    }
  }

  /** Wakes the dispatchers waiting on the queue (on any queue when undefined). */
  wake(queue: string | undefined): void {
    for (const w of this.#waiters) if (queue === undefined || w.queues.includes(queue)) w.wake();
  }
}
