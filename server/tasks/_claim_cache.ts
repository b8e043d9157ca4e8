/**
 * The tasks this process enqueued that no claim has read yet, with the row version their
 * insert returned: a claim of one of them builds its Assign from here, with no round trip
 * to Postgres. Safe because the version is the fence (docs/ARCHITECTURE.md, "Fencing"): a
 * task that changed since its insert (cancelled here or on another instance) is refused at
 * its start or finish just as after a read, and a cancel here drops its entry. Bounded by
 * count and by payload bytes; the oldest entries go first, and a miss reads Postgres.
 */
import type { TaskRecord } from "./model.ts";

const MAX_ENTRIES = 50_000;
const MAX_BYTES = 64 * 1024 * 1024;

interface Entry {
  task: TaskRecord;
  version: string;
}

/** Stale slots (taken, evicted or put again) the order may hold beyond twice the live entries. */
const STALE_SLACK = 1024;

export class ClaimCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  /**
   * Entries in put order, oldest from `#head`: eviction pops from here and skips a slot whose
   * entry is no longer the live one for its id. Rebuilt from the map once stale slots
   * outnumber twice the live entries (plus a slack), so it stays bounded and each put pays
   * O(1) amortised. Not a long-lived `keys()` iterator over the map: V8 keeps every hash
   * table a live iterator was opened on, with every entry it ever held, so such a cursor
   * kept each task this process enqueued (bench:campaign grew ~1.6 KB a mail); and a fresh
   * `keys()` per eviction steps over every emptied slot (26 µs at 50,000 entries).
   */
  #order: Entry[] = [];
  #head = 0;

  constructor(
    readonly maxEntries: number = MAX_ENTRIES,
    readonly maxBytes: number = MAX_BYTES,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Slots in the eviction order, stale ones included (for tests of its bound). */
  get orderSlots(): number {
    return this.#order.length - this.#head;
  }

  put(task: TaskRecord, version: string): void {
    if (task.state !== "queued" && task.state !== "scheduled") return;
    this.delete(task.id);
    const entry = { task, version };
    this.#entries.set(task.id, entry);
    this.#order.push(entry);
    this.#bytes += task.payload.length;
    while (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const oldest = this.#order[this.#head];
      if (oldest === undefined) break;
      this.#order[this.#head++] = undefined as unknown as Entry;
      if (this.#entries.get(oldest.task.id) === oldest) this.delete(oldest.task.id);
    }
    if (this.orderSlots > 2 * this.#entries.size + STALE_SLACK) {
      this.#order = [...this.#entries.values()];
      this.#head = 0;
    } else if (this.#head > STALE_SLACK && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Takes the entry of a task runnable at `now`; undefined when there is none (read Postgres). */
  take(id: string, now: number): { task: TaskRecord; version: string } | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    this.delete(id);
    return entry.task.runAt <= now || entry.task.state === "queued" ? entry : undefined;
  }

  delete(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    this.#bytes -= entry.task.payload.length;
  }
}
