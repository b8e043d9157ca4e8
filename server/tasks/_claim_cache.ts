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

export class ClaimCache {
  readonly #entries = new Map<string, { task: TaskRecord; version: string }>();
  #bytes = 0;
  /**
   * Where eviction stopped, in insertion order: every entry before it is gone. A fresh
   * `keys()` would start at the map's first slot and step over every slot that a take or an
   * eviction emptied (the map compacts only when it grows), 26 µs an eviction at 50,000
   * entries; this cursor steps over each emptied slot once.
   */
  #oldest: MapIterator<string> = this.#entries.keys();

  constructor(
    readonly maxEntries: number = MAX_ENTRIES,
    readonly maxBytes: number = MAX_BYTES,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  put(task: TaskRecord, version: string): void {
    if (task.state !== "queued" && task.state !== "scheduled") return;
    this.delete(task.id);
    this.#entries.set(task.id, { task, version });
    this.#bytes += task.payload.length;
    while (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes) {
      let next = this.#oldest.next();
      // A finished iterator stays finished: start again (everything before it is gone anyway).
      if (next.done) next = (this.#oldest = this.#entries.keys()).next();
      if (next.done) break;
      this.delete(next.value);
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
