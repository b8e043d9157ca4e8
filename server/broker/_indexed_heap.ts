/**
 * A min-heap of ids by score (ties by id, as a Redis ZSET orders them) that can also
 * delete or re-score any id: the memory broker's stand-in for a ZSET. Deletions are
 * lazy — stale entries are skipped when they reach the top — and the heap is rebuilt
 * when stale entries outnumber live ones, so memory stays proportional to the size.
 */
import { compareScored } from "./_order.ts";

interface Entry {
  id: string;
  score: number;
}

export class IndexedHeap {
  #heap: Entry[] = [];
  #live = new Map<string, Entry>();

  get size(): number {
    return this.#live.size;
  }

  has(id: string): boolean {
    return this.#live.has(id);
  }

  /** Adds the id, or moves it to the new score. */
  set(id: string, score: number): void {
    const entry = { id, score };
    this.#live.set(id, entry);
    this.#push(entry);
    this.#compactIfStale();
  }

  delete(id: string): boolean {
    const had = this.#live.delete(id);
    if (had) this.#compactIfStale();
    return had;
  }

  /** The lowest entry, without removing it. */
  peek(): Readonly<Entry> | undefined {
    this.#dropStaleTop();
    return this.#heap[0];
  }

  /** Removes and returns the lowest entry. */
  pop(): Readonly<Entry> | undefined {
    this.#dropStaleTop();
    const top = this.#heap[0];
    if (!top) return undefined;
    this.#removeTop();
    this.#live.delete(top.id);
    return top;
  }

  #dropStaleTop(): void {
    while (this.#heap.length > 0 && this.#live.get(this.#heap[0].id) !== this.#heap[0]) this.#removeTop();
  }

  #compactIfStale(): void {
    if (this.#heap.length <= 2 * this.#live.size + 64) return;
    this.#heap = [...this.#live.values()];
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareScored(heap[i], heap[parent]) >= 0) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  #removeTop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    this.#down(0);
  }

  #down(start: number): void {
    const heap = this.#heap;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && compareScored(heap[left], heap[least]) < 0) least = left;
      if (right < heap.length && compareScored(heap[right], heap[least]) < 0) least = right;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least], heap[i]];
      i = least;
    }
  }
}
