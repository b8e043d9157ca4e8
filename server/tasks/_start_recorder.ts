/**
 * The half of a worker session that records starts (docs/ARCHITECTURE.md, "One task, end
 * to end"): a task still running START_RECORD_MS after its Assign gets its start written to
 * Postgres, with every other such task of the session in one statement; one that ends sooner
 * has it written by its finish. A task Postgres will not start changed since its claim
 * (cancelled, or its expired lease recorded): its worker is told to stop.
 */

/**
 * A task still running this long after its Assign gets its start recorded in Postgres; one
 * that ends sooner has it recorded with its finish, in the same statement (docs/ARCHITECTURE.md,
 * "Delivery": until then a broker that loses its state may hand it out again).
 */
export const START_RECORD_MS = 100;

/** A lease a worker session holds. */
export interface Held {
  leaseId: string;
  deadline: number;
  /** Its Result arrived and waits to be recorded: its credit is back already. */
  finishing?: boolean;
  /** Set while Postgres has not recorded its start: the row version read at the claim (the fence). */
  version?: string;
  /** When it was claimed (the engine's clock): its attempt's start. */
  startedAt: number;
  /** When it was assigned (monotonic ms): its start is recorded once it has run START_RECORD_MS. */
  assignedAt: number;
}

type Start = { taskId: string; leaseId: string; version: string; startedAt: number };

export class StartRecorder {
  #timer?: ReturnType<typeof setTimeout>;
  /** The recording in flight, if any: a finish of the same task must not overlap it (see settled). */
  #inFlight?: Promise<void>;

  constructor(
    readonly held: Map<string, Held>,
    readonly port: {
      record(starts: Start[]): Promise<Set<string>>;
      lost(taskId: string, leaseId: string): void;
      closed(): boolean;
      warn(error: unknown): void;
    },
  ) {}

  /** Records the due starts in START_RECORD_MS, unless a round is already waiting. */
  schedule(): void {
    this.#timer ??= setTimeout(() => this.#due(), START_RECORD_MS);
  }

  /**
   * Resolves once no recording is in flight. The finisher waits for it before each batch: a
   * finish statement that waited on the row lock of a start being recorded would not see the
   * attempt row that start inserted (its snapshot predates it), and would leave it open.
   */
  async settled(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Records one task's start now (before its first Progress). */
  recordNow(taskId: string): Promise<void> {
    return this.#record((id) => id === taskId);
  }

  async #due(): Promise<void> {
    this.#timer = undefined;
    const due = performance.now() - START_RECORD_MS;
    await this.#record((_, h) => h.assignedAt <= due);
    if (this.port.closed()) return;
    if ([...this.held.values()].some((h) => h.version !== undefined && !h.finishing)) this.schedule();
  }

  async #record(wanted: (taskId: string, held: Held) => boolean): Promise<void> {
    await this.settled();
    // Chosen with no await until the write is in flight: a task whose Result came meanwhile is left out.
    const starts = [...this.held].flatMap(([taskId, h]) =>
      h.version !== undefined && !h.finishing && wanted(taskId, h)
        ? [{ taskId, leaseId: h.leaseId, version: h.version, startedAt: h.startedAt }]
        : []
    );
    if (starts.length === 0 || this.port.closed()) return;
    const done = this.#write(starts);
    this.#inFlight = done;
    try {
      await done;
    } finally {
      if (this.#inFlight === done) this.#inFlight = undefined;
    }
  }

  async #write(starts: Start[]): Promise<void> {
    try {
      const recorded = await this.port.record(starts);
      for (const s of starts) {
        const held = this.held.get(s.taskId);
        if (held?.leaseId !== s.leaseId) continue;
        if (recorded.has(s.taskId)) held.version = undefined;
        else this.port.lost(s.taskId, s.leaseId);
      }
    } catch (error) {
      this.port.warn(error);
    }
  }
}
