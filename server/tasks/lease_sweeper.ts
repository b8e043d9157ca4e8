/**
 * The lease sweeper owns the leases of running tasks: every running task in Postgres
 * has one in the broker, so the reaper can take it back.
 */
import type { BrokerTask, Lease } from "../broker/broker.ts";
import { runnable } from "./model.ts";
import { type EngineLoop, type EngineParts, IntervalLoop } from "./_engine_parts.ts";

export class LeaseSweeper implements EngineLoop {
  readonly name = "lease-sweeper";
  readonly #loop: IntervalLoop;

  constructor(readonly parts: EngineParts) {
    this.#loop = new IntervalLoop(this.name, parts, parts.config.leaseTtlMs * 5, () => this.sweep());
  }

  start(signal: AbortSignal): void {
    this.#loop.start(signal);
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /**
   * Gives every running task in Postgres a lease in the broker if it has none. A process that
   * died between taking an expired lease and recording it in Postgres (or a broker that lost a
   * lease some other way) leaves a task running with nothing to expire it; the restored lease
   * lives one TTL, so a worker still heartbeating it keeps it and otherwise the reaper takes it
   * back. Leases the broker holds are left as they are. Returns how many rows were checked.
   */
  async sweep(): Promise<number> {
    const now = this.parts.clock.now();
    let checked = 0;
    let batch: Lease[] = [];
    for await (const { task, lease } of this.parts.store.staleRunning(now - this.parts.config.leaseTtlMs)) {
      if (!lease) continue;
      batch.push({
        taskId: task.id,
        queue: task.queue,
        ...lease,
        expiresAt: now + this.parts.config.leaseTtlMs,
        group: task.group,
      });
      if (batch.length >= 500) {
        await this.#restore(batch);
        checked += batch.length;
        batch = [];
      }
    }
    if (batch.length) await this.#restore(batch);
    return checked + batch.length;
  }

  /**
   * Restores the leases, then looks again: a task that ended or was taken back while they
   * were read (its lease expired and recorded meanwhile) must not keep a restored lease,
   * which would hold it out of its queue (`add` leaves a leased task alone) until it expired.
   */
  async #restore(batch: Lease[]): Promise<void> {
    const { broker, store } = this.parts;
    await broker.restoreLeases(batch);
    const current = await store.runningLeases(batch.map((l) => l.taskId));
    const stale = batch.filter((l) => current.get(l.taskId) !== l.leaseId);
    if (stale.length === 0) return;
    await broker.releaseMany(stale);
    const back: BrokerTask[] = [];
    for (const lease of stale) {
      const found = await store.get(lease.taskId);
      const task = found && runnable(found.task);
      if (task) back.push(task);
    }
    if (back.length === 0) return;
    await broker.add(back, this.parts.clock.now());
    for (const queue of new Set(back.map((t) => t.queue))) {
      this.parts.wake(queue);
      await broker.notify(queue);
    }
  }
}
