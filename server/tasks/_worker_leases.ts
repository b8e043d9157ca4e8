/**
 * The engine's half that follows a worker's leases (runtime.ts delegates to it): a claim
 * and its start, progress, heartbeats, results, and the ends of a lease (given back,
 * taken back, expired). Each change commits in Postgres, then goes to the broker, then to
 * the watchers, through the engine's own pipeline (`EngineCore`).
 */
import type { BrokerTask, ClaimRequest, Lease } from "../broker/broker.ts";
import type { EngineParts } from "./_engine_parts.ts";
import {
  type AttemptResult,
  runnable,
  type StartedTask,
  type TaskRecord,
  type TaskStore,
  type Transition,
} from "./model.ts";

/** The engine's pipeline, lent to this half of it. */
export interface EngineCore {
  readonly random: () => number;
  publish(task: TaskRecord, previous?: TaskRecord["state"]): void;
  apply(transition: Transition, previous?: TaskRecord["state"]): Promise<void>;
  makeRunnable(tasks: readonly BrokerTask[]): Promise<void>;
  mirror(what: string, change: () => Promise<unknown>): Promise<void>;
}

export class WorkerLeases {
  constructor(readonly parts: EngineParts, readonly core: EngineCore) {}

  /**
   * Claims up to `max` tasks for a worker and records their start. Leases claimed after the
   * worker went (`gone`), and those Postgres would not start (cancelled or finished between
   * the broker and Postgres: Postgres wins), are given back without counting an attempt.
   */
  async claimAndStart(
    claim: Omit<ClaimRequest, "leaseTtlMs" | "now">,
    gone: () => boolean,
  ): Promise<{ claimed: number; started: Array<{ task: StartedTask; leaseId: string }> }> {
    const leases = await this.parts.broker.claim({
      ...claim,
      onLimited: (retryInMs) => {
        this.parts.counters.claimLimited(retryInMs);
        claim.onLimited?.(retryInMs);
      },
      leaseTtlMs: this.parts.config.leaseTtlMs,
      now: this.parts.clock.now(),
    });
    if (leases.length === 0) return { claimed: 0, started: [] };
    if (gone()) {
      await this.#giveBack(leases);
      return { claimed: leases.length, started: [] };
    }
    const started = await this.parts.store.startMany(leases, claim.workerId, this.parts.clock.now());
    if (started.length < leases.length) {
      const ids = new Set(started.map((t) => t.id));
      await this.#giveBack(leases.filter((l) => !ids.has(l.taskId)));
    }
    const leaseOf = new Map(leases.map((l) => [l.taskId, l.leaseId]));
    return {
      claimed: leases.length,
      started: started.map((task) => ({ task, leaseId: leaseOf.get(task.id)! })),
    };
  }

  /** Records a worker's progress if its lease is current, and tells the watchers. */
  async progress(taskId: string, leaseId: string, percent: number, message: string): Promise<void> {
    if (!await this.parts.store.progress(taskId, leaseId, percent, message, this.parts.clock.now())) return;
    const found = await this.parts.store.get(taskId);
    if (found) this.core.publish(found.task);
  }

  /** Extends a worker's leases; returns the lease ids the broker still held. */
  extend(leases: ReadonlyArray<{ taskId: string; leaseId: string }>): Promise<Set<string>> {
    return this.parts.broker.extend(leases, this.parts.config.leaseTtlMs, this.parts.clock.now());
  }

  /**
   * Records a batch of results: Postgres (a batch that fails whole is retried result by
   * result), then the leases end in the broker, then `recorded` (the worker's acks), then
   * the events, then retries and released dependents go to the broker. `tasks` follows
   * `batch`, null where the lease was no longer current.
   */
  async finish(
    batch: ReadonlyArray<{ taskId: string; leaseId: string; result: AttemptResult }>,
    workerId: string,
    recorded: (tasks: Array<TaskRecord | null>) => void,
  ): Promise<void> {
    const { tasks, runnable } = await this.#record(batch, workerId);
    await this.core.mirror("recording results", () => this.parts.broker.releaseMany(batch));
    recorded(tasks);
    for (const task of tasks) if (task) this.core.publish(task, "running");
    await this.core.mirror("recording results", () => this.core.makeRunnable(runnable));
  }

  async #record(
    batch: ReadonlyArray<{ taskId: string; leaseId: string; result: AttemptResult }>,
    workerId: string,
  ): ReturnType<TaskStore["finishMany"]> {
    try {
      return await this.parts.store.finishMany(batch, this.parts.clock.now(), this.core.random);
    } catch (error) {
      if (batch.length === 1) throw error;
      this.parts.log.warn("recording a batch of results failed: recording them one by one", {
        worker_id: workerId,
        results: batch.length,
        error: String(error),
      });
      const one = [];
      for (const result of batch) {
        one.push(await this.parts.store.finishMany([result], this.parts.clock.now(), this.core.random));
      }
      return { tasks: one.flatMap((o) => o.tasks), runnable: one.flatMap((o) => o.runnable) };
    }
  }

  /** A worker session gives a lease back (timeout, stream ended): the broker lease ends, the attempt is counted. */
  async takeBack(
    lease: Pick<Lease, "taskId" | "leaseId" | "workerId">,
    outcome: "lease_expired" | "timed_out",
  ) {
    await this.parts.broker.release(lease.taskId, lease.leaseId);
    await this.expire(lease, outcome);
  }

  /** Ends a lease whose task never started and puts the task back as it was; no attempt is counted. */
  async #giveBack(leases: ReadonlyArray<Pick<Lease, "taskId" | "leaseId">>): Promise<void> {
    if (leases.length === 0) return;
    await this.parts.broker.releaseMany(leases);
    await this.#requeueIfRunnable(leases.map((l) => l.taskId));
  }

  /**
   * Puts back into the broker those of these tasks that Postgres still holds runnable. A
   * lease the broker handed out but Postgres never saw start (the claiming process died,
   * or judged a scheduled task not yet due by its own clock) would otherwise leave its
   * task queued in Postgres and in no broker set until the next rebuild.
   */
  async #requeueIfRunnable(taskIds: readonly string[]): Promise<void> {
    const tasks: BrokerTask[] = [];
    for (const id of taskIds) {
      const found = await this.parts.store.get(id);
      const task = found && runnable(found.task);
      if (task) tasks.push(task);
    }
    await this.core.makeRunnable(tasks);
  }

  async expire(
    lease: Pick<Lease, "taskId" | "leaseId" | "workerId">,
    outcome: "lease_expired" | "timed_out",
  ) {
    const transition = await this.parts.store.expire(
      lease.taskId,
      lease.leaseId,
      outcome,
      this.parts.clock.now(),
      this.core.random,
    );
    this.parts.sessions.get(lease.workerId)?.leaseLost(lease.taskId, lease.leaseId);
    if (!transition) await this.#requeueIfRunnable([lease.taskId]);
    else {
      this.parts.log.info("lease expired: task goes back to its queue", {
        task_id: lease.taskId,
        worker_id: lease.workerId,
        state: transition.task.state,
      });
      await this.core.apply(transition, "running");
    }
  }
}
