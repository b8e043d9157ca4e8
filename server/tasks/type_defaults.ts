/**
 * Per-type defaults: what an Enqueue of a task type gets for the fields it leaves unset
 * (queue, max attempts, backoff, timeout). They live in Postgres; each process keeps
 * them all in memory (the table is one row per type) and reads them again at most every
 * REFRESH_MS, so Enqueue pays no extra round trip. A change made here is seen here at
 * once and by other instances within REFRESH_MS.
 */
import type { Clock } from "../clock.ts";
import type { TypeDefaults } from "./model.ts";

export const REFRESH_MS = 5_000;
const PAGE = 1000;

export class TypeDefaultsCache {
  #byType = new Map<string, TypeDefaults>();
  #loadedAt = -Infinity;
  #loading?: Promise<void>;

  constructor(
    readonly load: (after: string, limit: number) => Promise<TypeDefaults[]>,
    readonly clock: Clock,
  ) {}

  /** The defaults of these types that have any. */
  async forTypes(types: Iterable<string>): Promise<Map<string, TypeDefaults>> {
    if (this.clock.now() - this.#loadedAt >= REFRESH_MS) await this.#load();
    const out = new Map<string, TypeDefaults>();
    for (const type of types) {
      const d = this.#byType.get(type);
      if (d) out.set(type, d);
    }
    return out;
  }

  /** Forgets what was read: the next Enqueue reads the table again (after this process changed it). */
  invalidate(): void {
    this.#loadedAt = -Infinity;
  }

  #load(): Promise<void> {
    return this.#loading ??= (async () => {
      try {
        const at = this.clock.now();
        const all = new Map<string, TypeDefaults>();
        let after = "";
        while (true) {
          const rows = await this.load(after, PAGE);
          for (const row of rows) all.set(row.type, row);
          if (rows.length < PAGE) break;
          after = rows[rows.length - 1].type;
        }
        this.#byType = all;
        this.#loadedAt = at;
      } finally {
        this.#loading = undefined;
      }
    })();
  }
}
