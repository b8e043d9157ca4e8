/**
 * Starts and stops the task engine's loops in one written-down order:
 *
 *   start: lease reaper, registry writer, lease sweeper, promoter
 *   stop:  promoter, lease sweeper, registry writer, lease reaper
 *
 * The reaper runs first and stops last, so the leases of streams that end during
 * shutdown still expire; the promoter, which makes tasks claimable, runs last and
 * stops first. The engine rebuilds the broker once before the loops start.
 */
import type { EngineLoop } from "./_engine_parts.ts";

export class Supervisor {
  readonly #stop = new AbortController();
  #started = false;

  /** `loops` in their start order; they stop in the reverse order. */
  constructor(readonly loops: readonly EngineLoop[]) {}

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const loop of this.loops) loop.start(this.#stop.signal);
  }

  async stop(): Promise<void> {
    for (const loop of [...this.loops].reverse()) await loop.stop();
    this.#stop.abort();
  }
}
