/**
 * The promoter owns the broker's copy of Postgres: each tick it rebuilds the broker when
 * it lost its state (start, Redis restart, FLUSHALL, or a broker write after a commit
 * that failed), then moves due delayed tasks to ready.
 */
import type { BrokerTask, Lease } from "../broker/broker.ts";
import { type EngineLoop, type EngineParts, IntervalLoop } from "./_engine_parts.ts";
import { restoreLimits } from "./queue_limits.ts";

export class Promoter implements EngineLoop {
  readonly name = "promoter";
  readonly #loop: IntervalLoop;
  #rebuilding?: Promise<void>;
  /** Set when a broker change after a commit failed: the next tick rebuilds even if the broker kept its state. */
  #wanted = false;

  constructor(readonly parts: EngineParts) {
    this.#loop = new IntervalLoop(this.name, parts, parts.config.tickMs, () => this.tick());
  }

  start(signal: AbortSignal): void {
    this.#loop.start(signal);
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Asks the next tick to rebuild the broker from Postgres. */
  wantRebuild(): void {
    this.#wanted = true;
  }

  /** One promoter iteration: rebuild if the broker lost its state, then promote due tasks. */
  async tick(): Promise<void> {
    await this.rebuildIfNeeded();
    const moved = await this.parts.broker.promote(this.parts.clock.now(), 1000);
    if (moved > 0) this.parts.wake();
  }

  /** Rebuilds the broker from Postgres when it lost its state; concurrent callers share one rebuild. */
  rebuildIfNeeded(): Promise<void> {
    return this.#rebuilding ??= (async () => {
      const wanted = this.#wanted;
      this.#wanted = false;
      try {
        if (wanted || await this.parts.broker.needsRebuild()) await this.#rebuild();
      } catch (error) {
        // The broker's own marker stays until markRebuilt; a wish of this process is kept the same way.
        this.#wanted ||= wanted;
        throw error;
      } finally {
        this.#rebuilding = undefined;
      }
    })();
  }

  async #rebuild(): Promise<void> {
    const started = this.parts.clock.now();
    let tasks = 0;
    let leases = 0;
    await restoreLimits(this.parts.broker, await this.parts.store.limits());
    // Both ways: a resume whose broker write failed must not leave the queue paused in Redis.
    for (const q of await this.parts.store.queueFlags()) await this.parts.broker.setPaused(q.name, q.paused);
    let batch: BrokerTask[] = [];
    let held: Lease[] = [];
    const flush = async () => {
      // Leases first: a task added back is never claimed past a limit its running peers fill.
      if (held.length) await this.parts.broker.restoreLeases(held);
      if (batch.length) await this.parts.broker.add(batch, this.parts.clock.now());
      tasks += batch.length;
      leases += held.length;
      batch = [];
      held = [];
    };
    for await (const { task, lease } of this.parts.store.brokerState()) {
      if (lease) {
        held.push({
          taskId: task.id,
          queue: task.queue,
          leaseId: lease.leaseId,
          workerId: lease.workerId,
          expiresAt: this.parts.clock.now() + this.parts.config.leaseTtlMs,
          group: task.group,
        });
      } else {
        batch.push(task);
      }
      if (batch.length + held.length >= 500) await flush();
    }
    await flush();
    await this.parts.broker.markRebuilt();
    this.parts.counters.brokerRebuilds++;
    this.parts.log.warn("broker rebuilt from Postgres", {
      tasks,
      leases,
      ms: this.parts.clock.now() - started,
    });
    this.parts.wake();
  }
}
