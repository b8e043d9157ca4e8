/**
 * What the task engine (runtime.ts) shares with its loops. Only the engine's files see
 * these parts (tests/architecture_test.ts): everything else changes task state through
 * the engine's methods.
 */
import type { Broker } from "../broker/broker.ts";
import type { WorkerRegistry } from "../broker/worker_registry.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { type Loop, startLoop } from "../loop.ts";
import type { TasksConfig } from "./config.ts";
import type { EngineCounters } from "./engine_counters.ts";
import type { TaskStore } from "./model.ts";
import type { WorkerSession } from "./worker_session.ts";

export interface EngineParts {
  readonly store: TaskStore;
  readonly broker: Broker;
  readonly registry: WorkerRegistry;
  /** The worker streams this process holds, by worker id. */
  readonly sessions: ReadonlyMap<string, WorkerSession>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: TasksConfig;
  /** What the engine counts for /metrics (engine_counters.ts). */
  readonly counters: EngineCounters;
  /** Wakes this process's dispatchers waiting on the queue (on every queue when undefined). */
  wake(queue?: string): void;
}

/** One of the engine's background loops; the supervisor starts and stops them in order. */
export interface EngineLoop {
  readonly name: string;
  /** Starts the loop; it stops when `signal` aborts or stop() is called. */
  start(signal: AbortSignal): void;
  /** Stops the loop and resolves once its iteration in flight has ended. */
  stop(): Promise<void>;
}

/** An EngineLoop running `iteration` every `intervalMs` (server/loop.ts). */
export class IntervalLoop implements EngineLoop {
  #loop?: Loop;

  constructor(
    readonly name: string,
    readonly parts: Pick<EngineParts, "clock" | "log" | "counters">,
    readonly intervalMs: number,
    readonly iteration: () => Promise<unknown>,
  ) {}

  start(signal: AbortSignal): void {
    const { clock, log, counters } = this.parts;
    const loop = this.#loop = startLoop(
      this.name,
      { clock, log, intervalMs: this.intervalMs, onFailure: () => counters.loopFailed(this.name) },
      this.iteration,
    );
    signal.addEventListener("abort", () => void loop.stop(), { once: true });
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }
}
