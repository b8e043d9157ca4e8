/**
 * The worker's request stream: a bounded, single-consumer async queue that the
 * gRPC transport drains. Messages that only matter in their latest form (a task's
 * progress, the next heartbeat) carry a key and replace a pending message with the
 * same key in place, so a slow connection makes them coalesce instead of pile up.
 * What is left (Hello and one Result per assignment) is bounded by the credits, and
 * a push past the capacity fails: the caller treats that as a broken stream.
 */
interface Entry<T> {
  key?: string;
  item: T;
}

export class Outbox<T> implements AsyncIterable<T> {
  #entries: Entry<T>[] = [];
  #keyed = new Map<string, Entry<T>>();
  #wake?: () => void;
  #closed = false;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError("an outbox holds at least one message");
  }

  get size(): number {
    return this.#entries.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues `item`, or replaces the pending item with the same `key`. False when the
   * outbox is closed or full; nothing is queued then.
   */
  push(item: T, key?: string): boolean {
    if (this.#closed) return false;
    if (key !== undefined) {
      const pending = this.#keyed.get(key);
      if (pending) {
        pending.item = item;
        return true;
      }
    }
    if (this.#entries.length >= this.capacity) return false;
    const entry: Entry<T> = { key, item };
    this.#entries.push(entry);
    if (key !== undefined) this.#keyed.set(key, entry);
    this.#wake?.();
    return true;
  }

  /**
   * The item queued under `key` that the consumer has not taken yet, or undefined. The
   * caller may still change it in place (e.g. add to a batch): it is read when taken.
   */
  pending(key: string): T | undefined {
    return this.#keyed.get(key)?.item;
  }

  /** No more pushes; the consumer still receives what is queued, then the iteration ends. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    while (true) {
      const entry = this.#entries.shift();
      if (entry) {
        if (entry.key !== undefined) this.#keyed.delete(entry.key);
        yield entry.item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}
