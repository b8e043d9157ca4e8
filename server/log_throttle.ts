/**
 * Rate-limited logging for conditions a peer can trigger at will (refused connections, an
 * exhausted file table): the first occurrence is logged at once, later ones at most once an
 * interval, with how many were folded into that line.
 */
export class LogThrottle {
  #last = -Infinity;
  #suppressed = 0;

  constructor(readonly intervalMs: number, readonly now: () => number = Date.now) {}

  /** Calls `write` with the count of occurrences since the last line, or counts this one silently. */
  hit(write: (occurrences: number) => void): void {
    const now = this.now();
    if (now - this.#last < this.intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#last = now;
    const occurrences = this.#suppressed + 1;
    this.#suppressed = 0;
    write(occurrences);
  }
}
