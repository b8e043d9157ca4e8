/**
 * The worker registry: which workers are connected to which server instance, as
 * ListWorkers shows them, and a way to reach the instance holding a worker's stream.
 * Each instance writes the entries of its own streams (on connect, drain and every
 * heartbeat) and removes them when a stream ends; an entry not written for `staleMs`
 * belongs to an instance that died and is dropped. Like the broker it holds nothing that
 * matters after a flush: instances write their entries again at the next heartbeat.
 *
 * Two implementations: Redis (every instance sees every worker) and in-memory (embedded
 * mode, one process).
 */

/** A connected worker as the registry holds it; times are milliseconds since the epoch. */
export interface WorkerEntry {
  id: string;
  queues: string[];
  concurrency: number;
  activeTaskIds: string[];
  lastHeartbeat: number;
  version: string;
  draining: boolean;
  labels: Record<string, string>;
  load: number;
  connectedAt: number;
  /** The instance holding the stream. */
  serverId: string;
  /** When that instance last wrote the entry. */
  seenAt: number;
  /** The user owning the API key the stream was opened with. */
  ownerId?: string;
}

/** A request for the instance holding a worker's stream. */
export type WorkerControl =
  | { kind: "drain"; workerId: string; graceMs: number }
  /** The task was cancelled while running under this lease: its worker must stop it. */
  | { kind: "cancel"; taskId: string; leaseId: string };

export interface WorkerRegistry {
  /** Writes the entry (the instance holding the stream calls this). */
  put(entry: WorkerEntry): Promise<void>;
  /** Removes the entry if `serverId` still owns it. */
  remove(workerId: string, serverId: string): Promise<void>;
  /** Every entry written within `staleMs` of `now`, by id; older ones are dropped. */
  list(now: number, staleMs: number): Promise<WorkerEntry[]>;
  /** Tells every instance; the one holding the worker acts. */
  send(control: WorkerControl): Promise<void>;
  /** Calls `listener` for every control message sent anywhere; returns an unsubscribe. */
  subscribe(listener: (control: WorkerControl) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** The registry of one process (embedded mode). */
export function createMemoryWorkerRegistry(): WorkerRegistry {
  const entries = new Map<string, WorkerEntry>();
  const listeners = new Set<(control: WorkerControl) => void>();
  return {
    put(entry) {
      entries.set(entry.id, structuredClone(entry));
      return Promise.resolve();
    },
    remove(workerId, serverId) {
      if (entries.get(workerId)?.serverId === serverId) entries.delete(workerId);
      return Promise.resolve();
    },
    list(now, staleMs) {
      for (const [id, entry] of entries) if (entry.seenAt < now - staleMs) entries.delete(id);
      return Promise.resolve([...entries.values()].sort(byId).map((e) => structuredClone(e)));
    },
    send(control) {
      for (const listener of [...listeners]) listener(control);
      return Promise.resolve();
    },
    subscribe(listener) {
      const own = (control: WorkerControl) => listener(control);
      listeners.add(own);
      return Promise.resolve(() => listeners.delete(own));
    },
    close() {
      listeners.clear();
      return Promise.resolve();
    },
  };
}

export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Parses a control message from the wire; undefined for anything malformed. */
export function parseControl(text: string): WorkerControl | undefined {
  try {
    const value = JSON.parse(text);
    if (
      value?.kind === "drain" && typeof value.workerId === "string" && Number.isFinite(value.graceMs)
    ) {
      return { kind: "drain", workerId: value.workerId, graceMs: value.graceMs };
    }
    if (value?.kind === "cancel" && typeof value.taskId === "string" && typeof value.leaseId === "string") {
      return { kind: "cancel", taskId: value.taskId, leaseId: value.leaseId };
    }
  } catch { /* not JSON: not ours */ }
  return undefined;
}
