/**
 * A queue between a push source (the suggestion feed) and a pulling stream, holding at most
 * `capacity` items. A consumer that falls further behind is cut off with the error
 * `onOverflow` makes rather than letting memory grow without bound; the queue ends quietly
 * when `signal` aborts.
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;
  #overflowed = false;
  #failure: Error | undefined;
  #closed = false;
  readonly #capacity: number;
  readonly #onOverflow: () => Error;
  readonly #signal: AbortSignal;
  readonly #onAbort = () => this.close();

  constructor(capacity: number, signal: AbortSignal, onOverflow: () => Error) {
    this.#capacity = capacity;
    this.#signal = signal;
    this.#onOverflow = onOverflow;
    if (signal.aborted) this.#closed = true;
    else signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Queues an item; false when the queue is closed or has overflowed (the item is dropped). */
  push(item: T): boolean {
    if (this.#closed || this.#overflowed || this.#failure) return false;
    if (this.#items.length >= this.#capacity) {
      this.#overflowed = true;
      // The backlog is useless once the consumer is cut off; free it now.
      this.#items = [];
    } else {
      this.#items.push(item);
    }
    this.#signalChange();
    return !this.#overflowed;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Ends iteration with `error` at once, dropping what is queued. */
  fail(error: Error): void {
    if (this.#closed) return;
    this.#failure ??= error;
    this.#items = [];
    this.#signalChange();
  }

  /** Ends iteration after the queued items. */
  close(): void {
    this.#closed = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#signalChange();
  }

  #signalChange() {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      while (true) {
        if (this.#failure) throw this.#failure;
        if (this.#overflowed) throw this.#onOverflow();
        if (this.#signal.aborted) return;
        if (this.#items.length > 0) {
          yield this.#items.shift()!;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.close();
    }
  }
}
