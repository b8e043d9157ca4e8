/**
 * The registry writer owns this process's entries in the worker registry: every session's
 * entry is written on connect, heartbeat and drain, and again each interval, so the other
 * instances list this process's workers.
 */
import { type Logger, rateLimitedLogger } from "../log.ts";
import { type EngineLoop, type EngineParts, IntervalLoop } from "./_engine_parts.ts";
import type { WorkerSession } from "./worker_session.ts";

export class RegistryWriter implements EngineLoop {
  readonly name = "worker-registry";
  readonly #loop: IntervalLoop;
  /** When each session's registry entry was last written. */
  readonly #writtenAt = new WeakMap<WorkerSession, number>();
  /** A registry that is down is said once in a while, not on every write. */
  readonly #log: Logger;

  constructor(readonly parts: EngineParts) {
    this.#loop = new IntervalLoop(this.name, parts, parts.config.heartbeatMs, () => this.writeWorkers());
    this.#log = rateLimitedLogger(parts.log, 30_000);
  }

  start(signal: AbortSignal): void {
    this.#loop.start(signal);
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /**
   * Writes a session's entry (connect, heartbeat, drain). A registry that fails is logged,
   * not fatal: the next heartbeat writes the entry again.
   */
  workerSeen(session: WorkerSession): void {
    this.#writtenAt.set(session, this.parts.clock.now());
    this.parts.registry.put(session.entry()).catch((error) =>
      this.#log.warn("could not write the worker registry", {
        worker_id: session.id,
        error: String(error),
      })
    );
  }

  /**
   * One worker-registry iteration: writes every session's entry, so a worker that went
   * silent still shows on other instances (as SILENT) rather than aging out there.
   */
  async writeWorkers(): Promise<void> {
    // A session that beat (or connected, or drained) within the last half interval was just
    // written: only the others, silent ones above all, need writing again.
    const recent = this.parts.clock.now() - this.parts.config.heartbeatMs / 2;
    for (const session of this.parts.sessions.values()) {
      if ((this.#writtenAt.get(session) ?? -Infinity) > recent) continue;
      this.#writtenAt.set(session, this.parts.clock.now());
      await this.parts.registry.put(session.entry());
    }
  }
}
