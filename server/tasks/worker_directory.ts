/**
 * The engine's directory of connected workers: this process's worker sessions (their
 * streams reached it) and, through the worker registry, the other instances' workers.
 * The engine (runtime.ts) builds it and hands it the sessions, which nobody else holds.
 */
import { byId, type WorkerEntry, type WorkerRegistry } from "../broker/worker_registry.ts";
import type { Clock } from "../clock.ts";
import { type Logger, rateLimitedLogger } from "../log.ts";
import type { TasksConfig } from "./config.ts";
import type { RegistryWriter } from "./registry_writer.ts";
import type { WorkerSession } from "./worker_session.ts";

export class WorkerDirectory {
  readonly #listeners = new Set<() => void>();
  /** A registry that is down is said once in a while, not on every call that reads it. */
  readonly #registryLog: Logger;

  constructor(
    readonly serverId: string,
    readonly sessions: Map<string, WorkerSession>,
    readonly registry: WorkerRegistry,
    readonly writer: RegistryWriter,
    readonly clock: Clock,
    readonly config: TasksConfig,
    readonly log: Logger,
  ) {
    this.#registryLog = rateLimitedLogger(log, 30_000);
  }

  /** An entry not written for this long belongs to an instance that is gone. */
  get staleMs(): number {
    return this.config.leaseTtlMs * 5;
  }

  /**
   * Every connected worker: this process's sessions as they are now, and the other
   * instances' workers as they last wrote them. A worker in both (it just moved here) is
   * this process's.
   */
  async list(): Promise<WorkerEntry[]> {
    const local = [...this.sessions.values()].map((s) => s.entry());
    const mine = new Set(local.map((e) => e.id));
    let remote: WorkerEntry[] = [];
    try {
      remote = (await this.registry.list(this.clock.now(), this.staleMs))
        .filter((e) => !mine.has(e.id) && e.serverId !== this.serverId);
    } catch (error) {
      this.#registryLog.warn("could not read the worker registry: showing this instance's workers", {
        error: String(error),
      });
    }
    return [...local, ...remote].sort(byId);
  }

  /** Called when a worker connects, disconnects or starts draining. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Takes a new session of a worker; returns the one it replaces, which the caller closes. */
  attach(session: WorkerSession): WorkerSession | undefined {
    const previous = this.sessions.get(session.id);
    this.sessions.set(session.id, session);
    this.changed();
    this.writer.workerSeen(session);
    return previous;
  }

  /** A session ended: it leaves this process, and the registry unless a newer stream of the worker is here. */
  async detach(session: WorkerSession): Promise<void> {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    this.changed();
    if (this.sessions.has(session.id)) return;
    await this.registry.remove(session.id, this.serverId).catch((error) =>
      this.log.warn("could not remove a worker from the registry: it ages out", {
        worker_id: session.id,
        error: String(error),
      })
    );
  }

  /** Tells the worker running the task under this lease, if its stream is here, to stop it. */
  cancelRunning(taskId: string, leaseId: string): void {
    for (const session of this.sessions.values()) session.leaseLost(taskId, leaseId, "cancelled");
  }
}
