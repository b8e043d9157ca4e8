/**
 * A bounded single-consumer queue that an async generator drains: the worker
 * session's outgoing messages. Pushing past the bound fails rather than letting a
 * stuck client grow the server's memory.
 */
export class Channel<T> {
  #items: T[] = [];
  #wake?: () => void;
  #closed = false;

  constructor(readonly capacity: number) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** False when the channel is closed or full (the caller ends the stream). */
  push(item: T): boolean {
    if (this.#closed || this.#items.length >= this.capacity) return false;
    this.#items.push(item);
    this.#wake?.();
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *drain(signal: AbortSignal): AsyncGenerator<T> {
    const onAbort = () => this.#wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const item = this.#items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
