/**
 * The task engine of one server process, and the only owner of task state: every change
 * (enqueue, cancel, retry, dead letters, pause and resume, limits, a worker's start,
 * progress and finish, a lease's expiry) commits in Postgres (the store, the truth),
 * then is copied to the broker (the hot path; `mirror`), then is told to the watchers
 * (`onTask`), in that order, here. The store, the broker, the worker registry and the
 * worker sessions are private to it and to its loops (_engine_parts.ts); TaskService,
 * WorkerService and the worker session translate messages and call its methods.
 *
 * Its loops, one file each, started and stopped by the supervisor (supervisor.ts, which
 * writes down the order): lease reaper, registry writer, lease sweeper, promoter.
 */
import type { Broker, BrokerTask, ClaimRequest, Lease, Limits } from "../broker/broker.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { TasksConfig } from "./config.ts";
import {
  type ClaimedTask,
  type NamedLimits,
  type NewTask,
  type QueueStats,
  type ResultToRecord,
  runnable,
  type StartedTask,
  type TaskRecord,
  type TaskStore,
  type Transition,
  type TypeDefaults,
} from "./model.ts";
import type { WorkerSession } from "./worker_session.ts";
import {
  createMemoryWorkerRegistry,
  type WorkerEntry,
  type WorkerRegistry,
} from "../broker/worker_registry.ts";
import type { EngineParts } from "./_engine_parts.ts";
import { LeaseReaper } from "./lease_reaper.ts";
import { LeaseSweeper } from "./lease_sweeper.ts";
import { Promoter } from "./promoter.ts";
import { RegistryWriter } from "./registry_writer.ts";
import { Supervisor } from "./supervisor.ts";
import { Mirror } from "./_mirror.ts";
import { type ArmedWake, Wakeups } from "./_wakeups.ts";
import { WorkerDirectory } from "./worker_directory.ts";
import { WorkerLeases } from "./_worker_leases.ts";
import { EngineCounters } from "./engine_counters.ts";
import { EnqueueGroup, groupable } from "./_enqueue_group.ts";

/** The default of `TasksRuntime.mirrorTimeoutMs`: well inside a client's shortest sensible deadline. */
export const MIRROR_TIMEOUT_MS = 500;

export type { Limits, WorkerEntry };

export type TaskListener = (task: TaskRecord, previous: TaskRecord["state"] | undefined) => void;

export class TasksRuntime {
  readonly #sessions = new Map<string, WorkerSession>();
  /** Names this process in worker entries and in WorkerInfo.server_id. */
  readonly serverId = `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
  readonly #taskListeners = new Set<TaskListener>();
  readonly #directory: WorkerDirectory;
  readonly #leases: WorkerLeases;
  readonly #wakeups: Wakeups;
  #unsubscribe?: () => Promise<void>;
  readonly random: () => number;
  /** The tasks as their worker receives them in an Assign: sealed payloads opened (sealed_payloads.ts). */
  readonly openPayloads: (tasks: TaskRecord[]) => Promise<TaskRecord[]>;
  /** How long a caller waits for the broker copy of a commit before answering anyway. */
  readonly mirrorTimeoutMs: number;
  readonly #mirror: Mirror;
  /** This process's share of what the engine counts (heartbeats, rebuilds, throttled claims, loop failures). */
  readonly counters = new EngineCounters();
  readonly #group: EnqueueGroup;

  /** Every instance's workers; this process writes its own sessions' entries. */
  readonly #registry: WorkerRegistry;
  readonly #store: TaskStore;
  readonly #broker: Broker;
  #stopControl?: () => void;
  readonly #promoter: Promoter;
  readonly #reaper: LeaseReaper;
  readonly #sweeper: LeaseSweeper;
  readonly #writer: RegistryWriter;
  readonly #supervisor: Supervisor;

  constructor(
    store: TaskStore,
    broker: Broker,
    readonly clock: Clock,
    readonly log: Logger,
    readonly config: TasksConfig,
    options: {
      random?: () => number;
      registry?: WorkerRegistry;
      openPayloads?: (tasks: TaskRecord[]) => Promise<TaskRecord[]>;
      mirrorTimeoutMs?: number;
    } = {},
  ) {
    this.#store = store;
    this.#broker = broker;
    internals.set(this, { store, broker });
    this.random = options.random ?? Math.random;
    this.openPayloads = options.openPayloads ?? ((tasks) => Promise.resolve(tasks));
    this.mirrorTimeoutMs = options.mirrorTimeoutMs ?? MIRROR_TIMEOUT_MS;
    this.#wakeups = new Wakeups(clock);
    this.#registry = options.registry ?? createMemoryWorkerRegistry();
    const parts: EngineParts = {
      store,
      broker,
      registry: this.#registry,
      sessions: this.#sessions,
      clock,
      log,
      config,
      counters: this.counters,
      wake: (queue) => this.#wakeLocal(queue),
    };
    this.#promoter = new Promoter(parts);
    this.#reaper = new LeaseReaper(parts, (lease, outcome) => this.expireLease(lease, outcome));
    this.#sweeper = new LeaseSweeper(parts);
    this.#writer = new RegistryWriter(parts);
    this.#mirror = new Mirror(this.mirrorTimeoutMs, log, () => this.#promoter.wantRebuild());
    this.#leases = new WorkerLeases(parts, {
      random: this.random,
      publish: (task, previous) => this.#publish(task, previous),
      apply: (transition, previous) => this.#apply(transition, previous),
      makeRunnable: (tasks) => this.#makeRunnable(tasks),
      mirror: (what, change) => this.#mirror.run(what, change),
    });
    this.#directory = new WorkerDirectory(
      this.serverId,
      this.#sessions,
      this.#registry,
      this.#writer,
      clock,
      config,
      log,
    );
    this.#group = new EnqueueGroup(async (tasks) => (await this.#enqueueNow(tasks)).tasks);
    this.#supervisor = new Supervisor([this.#reaper, this.#writer, this.#sweeper, this.#promoter]);
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#broker.subscribe((queue) => this.#wakeLocal(queue));
    // DrainWorker and CancelTask on another instance reach the worker's stream here.
    this.#stopControl = await this.#registry.subscribe((control) => {
      if (control.kind === "drain") this.#sessions.get(control.workerId)?.drain(control.graceMs);
      else this.cancelRunning(control.taskId, control.leaseId);
    });
    await this.rebuildIfNeeded();
    this.#supervisor.start();
  }

  async stop(): Promise<void> {
    await this.#supervisor.stop();
    await this.#unsubscribe?.();
    this.#stopControl?.();
    await this.#registry.close();
    await this.#broker.close();
  }

  // --- one iteration of each loop, for tests and for start ------------------------------

  /** One promoter iteration: rebuild if the broker lost its state, then promote due tasks. */
  tick(): Promise<void> {
    return this.#promoter.tick();
  }

  /** Rebuilds the broker from Postgres when it lost its state; concurrent callers share one rebuild. */
  rebuildIfNeeded(): Promise<void> {
    return this.#promoter.rebuildIfNeeded();
  }

  /** One lease-reaper iteration; returns how many leases expired. */
  reap(): Promise<number> {
    return this.#reaper.reap();
  }

  /** One lease-sweeper iteration; returns how many running rows were checked. */
  sweep(): Promise<number> {
    return this.#sweeper.sweep();
  }

  /** One registry-writer iteration. */
  writeWorkers(): Promise<void> {
    return this.#writer.writeWorkers();
  }

  /** Writes a session's registry entry now (connect, heartbeat, drain). */
  workerSeen(session: WorkerSession): void {
    this.#writer.workerSeen(session);
  }

  /** Tells the worker running the task under this lease, if its stream is here, to stop it. */
  cancelRunning(taskId: string, leaseId: string): void {
    this.#directory.cancelRunning(taskId, leaseId);
  }

  /** An entry not written for this long belongs to an instance that is gone. */
  get registryStaleMs(): number {
    return this.#directory.staleMs;
  }

  /** Every connected worker, on any instance (worker_directory.ts). */
  workers(): Promise<WorkerEntry[]> {
    return this.#directory.list();
  }

  // --- events -------------------------------------------------------------------------

  onTask(listener: TaskListener): () => void {
    this.#taskListeners.add(listener);
    return () => this.#taskListeners.delete(listener);
  }

  /** Called when a worker connects, disconnects or starts draining. */
  onWorkers(listener: () => void): () => void {
    return this.#directory.onChange(listener);
  }

  workersChanged(): void {
    this.#directory.changed();
  }

  /** Tells the watchers of a task's new state; only the engine calls it, after the commit. */
  #publish(task: TaskRecord, previous?: TaskRecord["state"]): void {
    for (const listener of this.#taskListeners) listener(task, previous);
  }

  /** Mirrors a store transition into the broker and tells everyone who cares. */
  async #apply(transition: Transition, previous?: TaskRecord["state"]): Promise<void> {
    this.#publish(transition.task, previous);
    await this.#mirror.run("a task changed", () => this.#makeRunnable(transition.runnable));
  }

  /** `sent`: called once the broker copy is on its way, before any dispatcher here is woken. */
  async #makeRunnable(tasks: readonly BrokerTask[], sent?: () => void): Promise<void> {
    if (tasks.length === 0) return;
    const added = this.#broker.add(tasks, this.clock.now());
    sent?.();
    const queues = new Set(tasks.map((t) => t.queue));
    // This process's dispatchers need not wait for the add's answer, nor for the round trip
    // through the broker's channel: the add is on its way, and a claim they send now follows
    // it on the same connection, so it sees the tasks. Woken again once the add has answered,
    // for a claim that overtook it anyway (a script the broker had to load again, a redirect).
    for (const queue of queues) this.#wakeLocal(queue);
    await added;
    for (const queue of queues) this.#wakeLocal(queue);
    await Promise.all([...queues].map((queue) => this.#broker.notify(queue)));
  }

  // --- state changes: Postgres, then the broker, then the event --------------------------

  /**
   * Stores validated tasks, then makes them runnable; a repeated idempotency key returns the
   * first task. A single plain task shares one insert with those of concurrent calls
   * (_enqueue_group.ts); each caller is answered after its own commit.
   */
  async enqueue(newTasks: NewTask[]): Promise<{ tasks: TaskRecord[]; duplicates: boolean[] }> {
    if (newTasks.length === 1 && groupable(newTasks[0])) {
      return { tasks: [await this.#group.add(newTasks[0])], duplicates: [false] };
    }
    return await this.#enqueueNow(newTasks);
  }

  async #enqueueNow(newTasks: NewTask[]): Promise<{ tasks: TaskRecord[]; duplicates: boolean[] }> {
    const result = await this.#store.enqueue(newTasks, this.clock.now());
    await this.#accept(result.tasks, result.duplicates);
    return result;
  }

  /** Tells the broker and the watchers about tasks Postgres has just accepted (duplicates aside). */
  async #accept(records: TaskRecord[], duplicates: boolean[]): Promise<void> {
    const fresh = records.filter((_, i) => !duplicates[i]);
    // Told once their broker copy is on its way and before a dispatcher here is woken, which may
    // tell their start at once (the claim cache needs no read); or after the mirror, if it failed
    // first or had nothing to copy.
    let told = false;
    const tell = () => {
      if (told) return;
      told = true;
      try {
        for (const t of fresh) this.#publish(t);
      } catch (error) {
        // Not the broker's failure: the mirror must not take it for one.
        this.log.error("a task watcher failed", { error: String(error) });
      }
    };
    // Postgres has them: if the broker fails now, the next promoter tick rebuilds it from Postgres.
    await this.#mirror.run(
      "enqueue",
      () => this.#makeRunnable(fresh.map(runnable).filter((t) => t !== undefined), tell),
    );
    tell();
  }

  /** Cancels an unfinished task; its worker, on any instance, is told to stop it. */
  async cancel(taskId: string, reason: string): Promise<TaskRecord> {
    const { task, runningLease, runnable: freed } = await this.#store.cancel(
      taskId,
      reason,
      this.clock.now(),
    );
    // Committed: a broker that fails now leaves at most a stale entry, which a claim skips and drops.
    await this.#mirror.run("a cancel", () => this.#broker.remove(task.id, task.queue));
    // Not running in Postgres, yet perhaps running: a claimed task whose start is not recorded
    // yet (an empty lease id names whichever lease of it a worker holds).
    const leaseId = runningLease ?? "";
    this.cancelRunning(task.id, leaseId);
    // A worker held by another instance: that one tells it (repeated here, it changes nothing).
    await this.#registry.send({ kind: "cancel", taskId: task.id, leaseId }).catch((error) =>
      this.log.warn(
        "could not tell the other instances of a cancel: its worker learns at its next heartbeat",
        { task_id: task.id, error: String(error) },
      )
    );
    // Dependents waiting on this task with on_failure or always may run now.
    await this.#apply({ task, runnable: freed });
    return task;
  }

  /** Queues a failed, dead or cancelled task again with a fresh attempt budget. */
  async retry(taskId: string): Promise<TaskRecord> {
    const task = await this.#store.retry(taskId, this.clock.now());
    await this.#accept([task], [false]);
    return task;
  }

  async requeueDead(queue: string, taskIds: string[], all: boolean): Promise<TaskRecord[]> {
    const tasks = await this.#store.requeueDead(queue, taskIds, all, this.clock.now());
    await this.#accept(tasks, tasks.map(() => false));
    return tasks;
  }

  /** Dead tasks leave Postgres; the broker never held them. */
  purgeDead(queue: string, taskIds: string[], all: boolean): Promise<TaskRecord[]> {
    return this.#store.purgeDead(queue, taskIds, all);
  }

  /** Pauses or resumes a queue: Postgres, then the broker (rebuilt from Postgres if that fails). */
  async setPaused(queue: string, paused: boolean): Promise<void> {
    await this.#store.setPaused(queue, paused, this.clock.now());
    await this.#mirror.run(paused ? "pausing a queue" : "resuming a queue", async () => {
      await this.#broker.setPaused(queue, paused);
      if (!paused) await this.#broker.notify(queue);
    });
  }

  /** Sets a queue's or a limit group's limits: Postgres, then the broker (a rebuild sets them all again). */
  async setLimits(target: { queue: string } | { group: string }, limits: Limits): Promise<void> {
    await this.#store.setLimits(target, limits, this.clock.now());
    const what = "queue" in target ? "configuring a queue" : "configuring a limit group";
    await this.#mirror.run(what, () => this.#broker.setLimits(target, limits));
    // A raised limit may let waiting tasks run now.
    if ("queue" in target) await this.#mirror.run(what, () => this.#broker.notify(target.queue));
  }

  // --- a worker's leases (_worker_leases.ts) -------------------------------------------

  /** Claims up to `max` tasks for a worker, read for their Assigns; starts are recorded later (WorkerLeases.claimAndStart). */
  claimAndStart(
    claim: Omit<ClaimRequest, "leaseTtlMs" | "now">,
    gone: () => boolean,
  ): Promise<{ claimed: number; started: Array<{ task: ClaimedTask; leaseId: string }> }> {
    return this.#leases.claimAndStart(claim, gone);
  }

  /** Records the starts of claimed tasks a worker still runs; returns the ids recorded (the rest changed meanwhile). */
  recordStarts(
    starts: ReadonlyArray<{ taskId: string; leaseId: string; version: string; startedAt: number }>,
    workerId: string,
  ): Promise<Set<string>> {
    return this.#leases.recordStarts(starts, workerId);
  }

  /** Gives back leases claimed but never assigned: no attempt counts. */
  giveBack(leases: ReadonlyArray<Pick<Lease, "taskId" | "leaseId">>): Promise<void> {
    return this.#leases.giveBack(leases);
  }

  /** Tells the watchers a task started; a session calls it once the task's Assign is sent. */
  taskStarted(task: StartedTask): void {
    this.#publish(task, task.previousState);
  }

  /** Records a worker's progress if its lease is current, and tells the watchers. */
  progress(taskId: string, leaseId: string, percent: number, message: string): Promise<void> {
    return this.#leases.progress(taskId, leaseId, percent, message);
  }

  /** Extends a worker's leases; returns the lease ids the broker still held. */
  extendLeases(leases: ReadonlyArray<{ taskId: string; leaseId: string }>): Promise<Set<string>> {
    return this.#leases.extend(leases);
  }

  /** Whether the broker lost its state since its last rebuild: a lease missing from it then is not lost. */
  brokerLostState(): Promise<boolean> {
    return this.#broker.needsRebuild();
  }

  /** Records a batch of results: Postgres, the broker, `recorded` (the acks), the events (WorkerLeases.finish). */
  finish(
    batch: ReadonlyArray<ResultToRecord>,
    workerId: string,
    recorded: (tasks: Array<TaskRecord | null>) => void,
  ): Promise<void> {
    return this.#leases.finish(batch, workerId, recorded);
  }

  /** A worker session gives a lease back (timeout, stream ended): the broker lease ends, the attempt is counted. */
  takeBack(
    lease: Pick<Lease, "taskId" | "leaseId" | "workerId">,
    outcome: "lease_expired" | "timed_out",
    version?: string,
  ) {
    return this.#leases.takeBack(lease, outcome, version);
  }

  /** Ends the attempt of an expired lease; the task goes back to its queue (or to the broker as Postgres holds it). */
  expireLease(lease: Pick<Lease, "taskId" | "leaseId" | "workerId">, outcome: "lease_expired" | "timed_out") {
    return this.#leases.expire(lease, outcome);
  }

  /** Sets a task type's defaults (the caller's cache is invalidated by the caller). */
  setTypeDefaults(defaults: Omit<TypeDefaults, "updatedAt">): Promise<void> {
    return this.#store.setTypeDefaults(defaults, this.clock.now());
  }

  // --- reads --------------------------------------------------------------------------

  get(taskId: string) {
    return this.#store.get(taskId);
  }

  list(...args: Parameters<TaskStore["list"]>) {
    return this.#store.list(...args);
  }

  listDead(...args: Parameters<TaskStore["listDead"]>) {
    return this.#store.listDead(...args);
  }

  queueStats(): Promise<QueueStats[]> {
    return this.#store.queueStats(this.clock.now());
  }

  limitGroups(after: string, limit: number): Promise<NamedLimits[]> {
    return this.#store.limitGroups(after, limit);
  }

  typeDefaults(after: string, limit: number): Promise<TypeDefaults[]> {
    return this.#store.typeDefaults(after, limit);
  }

  isPaused(queue: string): Promise<boolean> {
    return this.#broker.isPaused(queue);
  }

  /** Tasks of a limit group running now, as the broker counts them. */
  groupRunning(group: string): Promise<number> {
    return this.#broker.groupRunning(group);
  }

  // --- worker sessions ----------------------------------------------------------------

  /** How many worker streams this process holds. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** This process's worker streams, as /metrics shows their slots. */
  localSlots(): Array<{ workerId: string; concurrency: number; busy: number; lastHeartbeat: number }> {
    return [...this.#sessions.values()].map((s) => ({
      workerId: s.id,
      concurrency: s.hello.concurrency,
      busy: s.held.size,
      lastHeartbeat: s.lastHeartbeat,
    }));
  }

  /** This process's session of a worker, if its stream is here. */
  session(workerId: string): WorkerSession | undefined {
    return this.#sessions.get(workerId);
  }

  /** Takes a new session of a worker; returns the one it replaces, which the caller closes. */
  attach(session: WorkerSession): WorkerSession | undefined {
    return this.#directory.attach(session);
  }

  /** A session ended: it leaves this process, and the registry unless a newer stream of the worker is here. */
  detach(session: WorkerSession): Promise<void> {
    return this.#directory.detach(session);
  }

  /** Drains a worker on this instance or, through the registry, on the one holding its stream. */
  async drainRemote(workerId: string, graceMs: number): Promise<void> {
    await this.#registry.send({ kind: "drain", workerId, graceMs });
  }

  // --- dispatcher wake-ups ------------------------------------------------------------

  /** A dispatcher's wake, armed before it claims: a wake while the claim is out is kept (_wakeups.ts). */
  armWake(queues: readonly string[]): ArmedWake {
    return this.#wakeups.arm(queues);
  }

  #wakeLocal(queue: string | undefined) {
    this.#wakeups.wake(queue);
  }
}

const internals = new WeakMap<TasksRuntime, { store: TaskStore; broker: Broker }>();

/** The store and broker behind a runtime, for tests that set up what no RPC can (tests/architecture_test.ts keeps it there). */
export function internalsForTests(rt: TasksRuntime): { store: TaskStore; broker: Broker } {
  return internals.get(rt)!;
}
