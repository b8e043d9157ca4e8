/**
 * One worker's bidi stream, server side. It owns the worker's credits (never more
 * tasks in flight than its concurrency), its leases, and what it is told: Assign,
 * Cancel, Drain and ResultAck. Results are fenced by lease id in Postgres, so a
 * stale or foreign result changes nothing.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { TaskError } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  type Heartbeat,
  type Hello,
  type Result,
  type ResultAckSchema,
} from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { Channel } from "./_channel.ts";
import { taskToProto } from "./_convert.ts";
import { invalid } from "./_spec.ts";
import type { WorkerEntry } from "./runtime.ts";
import type { AttemptResult, ResultToRecord } from "./model.ts";
import type { TasksRuntime } from "./runtime.ts";
import { idleWait } from "./queue_limits.ts";
import { attemptTimedOut } from "./_attempt_outcome.ts";
import { boundedError } from "./error_bounds.ts";
import { type Held, StartRecorder } from "./_start_recorder.ts";
import { checkResultBatch, HeldAcks } from "./_stream_batches.ts";

type AckInit = MessageInitShape<typeof ResultAckSchema>;

/** Grace after an attempt's deadline before the server takes the task back itself. */
const DEADLINE_GRACE_MS = 5000;
/** Most results one finish transaction records, and most output bytes it carries. */
const FINISH_BATCH = 500;
const FINISH_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Leases a session may hold beyond twice its concurrency: results that wait to be recorded
 * while the next tasks run. At low concurrency this lets one finish transaction (and one
 * release) cover the results that arrived while the previous one was committing, instead of
 * holding the next claim back until it commits. Only while the output waiting to be recorded
 * stays within FINISH_BATCH_BYTES: past it, a session holds at most twice its concurrency.
 */
export const FINISH_SLACK = 32;

export class WorkerSession {
  readonly held = new Map<string, Held>();
  readonly out: Channel<ConnectResponse>;
  readonly connectedAt: number;
  lastHeartbeat: number;
  load = 0;
  draining = false;
  /** The user owning the API key that opened the stream: only their keys may take over its worker id. */
  ownerId?: string;
  /** Wakes the dispatcher: a slot was freed or a heartbeat arrived. */
  #nudge?: () => void;
  #claiming = false;
  #suspended = false;
  /** Results to record, in arrival order; bounded by the held leases they belong to. */
  #pending: ResultToRecord[] = [];
  /** Output bytes of the results in `#pending`. */
  #pendingBytes = 0;
  /** Held leases whose Result waits to be recorded: their credits are back (see `#mostHeld`). */
  #finishing = 0;
  /** Most leases held at once: `concurrency` running, the rest finished and waiting to be recorded. */
  readonly #mostHeld: number;
  /** Records the starts of tasks that run past START_RECORD_MS. */
  readonly #starts: StartRecorder;
  /** The finisher, while it runs: it records every pending result, a batch at a time. */
  #finisher?: Promise<void>;
  /** Set when a queue or group limit kept the last claim short (see idleWait). */
  #limitedFor?: number;
  /** The dispatcher waits for a slot: every one of the worker's slots is busy. */
  #waitingForSlot = false;
  /** Acks on their way out; for a worker that takes batches, held back to ride with the next message. */
  readonly #acks: HeldAcks;

  constructor(readonly runtime: TasksRuntime, readonly hello: Hello, readonly serverId: string) {
    this.connectedAt = runtime.clock.now();
    this.lastHeartbeat = this.connectedAt;
    this.#mostHeld = 2 * hello.concurrency + FINISH_SLACK;
    // Every outgoing message answers a credit, a held lease or a result: this bounds them all.
    this.out = new Channel(hello.concurrency + this.#mostHeld + 16);
    this.#acks = new HeldAcks((message) => this.send(message), hello.batches, hello.concurrency);
    this.#starts = new StartRecorder(this.held, {
      record: (starts) => runtime.recordStarts(starts, this.id),
      lost: (taskId, leaseId) => this.leaseLost(taskId, leaseId, "cancelled"),
      closed: () => this.out.closed,
      warn: (error) =>
        runtime.log.warn("recording task starts failed: trying again", {
          worker_id: this.id,
          error: String(error),
        }),
    });
  }

  get id(): string {
    return this.hello.workerId;
  }

  /**
   * Answers Results. A worker that takes batches gets them with the next message the session
   * sends while every slot is busy or a claim is out (a claim's Assigns, typically): at
   * concurrency 1 that makes one message of each ack and the next Assign.
   */
  #sendAcks(acks: AckInit[]): void {
    this.#acks.add(acks, (this.#waitingForSlot || this.#claiming) && !this.draining);
  }

  /** What the worker registry and ListWorkers show of this stream now. */
  entry(): WorkerEntry {
    return {
      id: this.id,
      queues: this.hello.queues,
      concurrency: this.hello.concurrency,
      activeTaskIds: [...this.held.keys()],
      lastHeartbeat: this.lastHeartbeat,
      version: this.hello.version,
      draining: this.draining,
      labels: this.hello.labels,
      load: this.load,
      connectedAt: this.connectedAt,
      serverId: this.serverId,
      seenAt: this.runtime.clock.now(),
      ...(this.ownerId ? { ownerId: this.ownerId } : {}),
    };
  }

  send(message: MessageInitShape<typeof ConnectResponseSchema>["message"]): void {
    // A closed stream has nobody left to tell; what matters was already written to Postgres.
    if (this.out.closed) return;
    // Acks held back go first: whatever the session says next, the worker has its answers by then.
    this.#acks.flush();
    if (!this.out.push(create(ConnectResponseSchema, { message }))) {
      this.runtime.log.warn("worker is not reading its stream: closing it", { worker_id: this.id });
      this.out.close();
    }
  }

  /** The lease was lost (expired, or its task cancelled): tell the worker to stop. */
  leaseLost(taskId: string, leaseId: string, reason = "lease_lost"): void {
    const held = this.held.get(taskId);
    // An empty lease id: whatever lease of the task (a cancel of one whose start was not recorded).
    if (!held || (leaseId !== "" && held.leaseId !== leaseId) || held.finishing) return;
    leaseId = held.leaseId;
    this.held.delete(taskId);
    // A worker that let a lease expire is likely hung: it gets nothing more until it beats again.
    if (reason === "lease_lost") this.#suspended = true;
    this.send({ case: "cancel", value: { taskId, leaseId, reason } });
    this.#freeSlot();
  }

  /** Stops assigning; `tell` sends the worker a Drain (false when the worker asked first). */
  drain(graceMs: number, tell = true): void {
    if (this.draining) return;
    this.draining = true;
    this.runtime.workersChanged();
    this.runtime.workerSeen(this);
    if (tell) {
      this.send({ case: "drain", value: { deadline: timestampFromMs(this.runtime.clock.now() + graceMs) } });
    }
    this.#acks.flush();
    this.#freeSlot();
  }

  #freeSlot() {
    this.#nudge?.();
    // While a claim is in flight the dispatcher closes the stream itself once it is back.
    if (this.draining && this.held.size === 0 && !this.#claiming) {
      this.#acks.flush();
      this.out.close();
    }
  }

  /** Hands out tasks while the worker has free slots; waits for work or a freed slot otherwise. */
  async dispatch(signal: AbortSignal): Promise<void> {
    const { runtime } = this;
    const queues = this.hello.queues;
    while (!signal.aborted && !this.out.closed && !this.draining) {
      // A Result gives its credit back at once; at most `#mostHeld` leases are held in all.
      const running = this.held.size - this.#finishing;
      const most = this.#pendingBytes > FINISH_BATCH_BYTES ? 2 * this.hello.concurrency : this.#mostHeld;
      const free = Math.min(this.hello.concurrency - running, most - this.held.size);
      if (free <= 0 || this.#suspended) {
        this.#startFinisher();
        let onAbort!: () => void;
        this.#waitingForSlot = true;
        await new Promise<void>((resolve) => {
          this.#nudge = onAbort = resolve;
          signal.addEventListener("abort", onAbort, { once: true });
        });
        this.#waitingForSlot = false;
        signal.removeEventListener("abort", onAbort);
        this.#nudge = undefined;
        continue;
      }
      this.#claiming = true;
      let leases;
      this.#limitedFor = undefined;
      // Before the claim: work added while it is out wakes the wait below at once.
      const wake = runtime.armWake(queues);
      try {
        const claim = this.#claimAndAssign(free, signal);
        // The claim's script is on its way to Redis: the finish's Postgres write goes after it.
        this.#startFinisher();
        leases = await claim;
      } finally {
        this.#claiming = false;
        if (leases !== 0) wake.disarm();
      }
      if (leases === 0) {
        // Nothing to assign: acks held for the claim go alone.
        this.#acks.flush();
        await wake.wait(idleWait(runtime.config.tickMs, this.#limitedFor), signal);
      }
    }
    this.#startFinisher();
    this.#acks.flush();
    if (this.draining && this.held.size === 0) this.out.close();
  }

  /** Claims up to `free` tasks and assigns them; returns how many the broker handed out. */
  async #claimAndAssign(free: number, signal: AbortSignal): Promise<number> {
    const { runtime } = this;
    const gone = () => signal.aborted || this.out.closed || this.draining;
    const { claimed, started } = await runtime.claimAndStart({
      queues: this.hello.queues,
      max: free,
      workerId: this.id,
      // Routing: only the types its Hello named (none named: any type).
      types: this.hello.taskTypes,
      onLimited: (ms: number) => this.#limitedFor = Math.min(this.#limitedFor ?? ms, ms),
    }, gone);
    if (started.length === 0) {
      this.#acks.flush();
      return claimed;
    }
    // Only the Assign carries a sealed payload opened; the events below keep the reference.
    const opened = new Map((await runtime.openPayloads(started.map((s) => s.task))).map((t) => [t.id, t]));
    const unassigned = [];
    const assigns = [];
    for (const { task, leaseId } of started) {
      if (gone()) {
        unassigned.push({ taskId: task.id, leaseId });
        continue;
      }
      const now = runtime.clock.now();
      const deadline = now + task.timeoutMs;
      this.held.set(task.id, {
        leaseId,
        deadline,
        version: task.version,
        startedAt: now,
        assignedAt: performance.now(),
      });
      assigns.push({
        task: taskToProto(opened.get(task.id) ?? task),
        attempt: task.attemptNumber,
        leaseId,
        deadline: timestampFromMs(deadline),
        traceparent: task.traceparent ?? "",
      });
      runtime.taskStarted(task);
    }
    // The acks held back ride with the Assigns.
    this.#acks.withAssigns(assigns);
    // Never sent to the worker: no attempt counts.
    if (unassigned.length > 0) await runtime.giveBack(unassigned);
    this.#starts.schedule();
    return claimed;
  }

  async handle(request: ConnectRequest): Promise<void> {
    const message = request.message;
    switch (message.case) {
      case "heartbeat":
        return await this.#heartbeat(message.value);
      case "progress": {
        const p = message.value;
        const held = this.held.get(p.taskId);
        if (!held || held.leaseId !== p.leaseId) return;
        // Progress is shown on a running task: its start is recorded first.
        if (held.version !== undefined) await this.#starts.recordNow(p.taskId);
        const percent = Math.min(100, Math.max(0, p.percent));
        return await this.runtime.progress(p.taskId, p.leaseId, percent, p.message.slice(0, 200));
      }
      case "result": {
        const refused: AckInit[] = [];
        this.#result(message.value, refused);
        return this.#sendAcks(refused);
      }
      case "results": {
        const { results } = message.value;
        checkResultBatch(results.length, this.hello.concurrency);
        const refused: AckInit[] = [];
        for (const result of results) this.#result(result, refused);
        return this.#sendAcks(refused);
      }
      case "drain":
        return this.drain(0, false);
      case "hello":
        throw invalid("hello", "Hello may be sent only once, first");
      default:
        throw invalid("message", "is empty");
    }
  }

  async #heartbeat(beat: Heartbeat): Promise<void> {
    const { runtime } = this;
    const now = runtime.clock.now();
    runtime.counters.heartbeats++;
    this.load = Number.isFinite(beat.load) ? Math.min(1, Math.max(0, beat.load)) : 0;
    const mine = beat.leases.filter((l) => this.held.get(l.taskId)?.leaseId === l.leaseId);
    const extended = await runtime.extendLeases(mine);
    // A broker that lost its state (FLUSHALL, a restart without persistence) lost only its copy of
    // the leases: the rebuild restores them from Postgres and the next heartbeat extends them.
    const brokerLost = extended.size < mine.length && await runtime.brokerLostState();
    // Set after the leases are extended, so ListWorkers showing it means the heartbeat took effect.
    this.lastHeartbeat = now;
    runtime.workerSeen(this);
    for (const lease of beat.leases) {
      const held = this.held.get(lease.taskId);
      if (!held || held.leaseId !== lease.leaseId) {
        // The worker believes it runs a task this session never gave it (or gave it under another lease).
        this.send({
          case: "cancel",
          value: { taskId: lease.taskId, leaseId: lease.leaseId, reason: "lease_lost" },
        });
      } else if (!extended.has(lease.leaseId)) {
        if (!brokerLost) this.leaseLost(lease.taskId, lease.leaseId);
      } else if (!held.finishing && now > held.deadline + DEADLINE_GRACE_MS) {
        this.held.delete(lease.taskId);
        this.send({
          case: "cancel",
          value: { taskId: lease.taskId, leaseId: lease.leaseId, reason: "timeout" },
        });
        await runtime.takeBack(
          { taskId: lease.taskId, leaseId: lease.leaseId, workerId: this.id },
          "timed_out",
          held.version,
        );
        this.#freeSlot();
      }
    }
    // An ack is held back at most until the worker's next heartbeat.
    this.#acks.flush();
    // Beating again: whatever it lost while silent, it may take work again.
    this.#suspended = false;
    this.#nudge?.();
  }

  /**
   * Takes a Result for the finisher; the reader goes straight on to the next message,
   * and results that arrive while a batch is being recorded make up the next one. The
   * answer to a result refused here goes into `refused`, for the caller to send.
   */
  #result(result: Result, refused: AckInit[]): void {
    const refuse = (reason: string) => {
      refused.push({ taskId: result.taskId, leaseId: result.leaseId, accepted: false, reason });
    };
    const held = this.held.get(result.taskId);
    if (!held || held.leaseId !== result.leaseId || held.finishing) {
      return refuse("lease expired or unknown: the task was given back to its queue or to another worker");
    }
    let outcome: AttemptResult;
    if (result.outcome.case === "output") outcome = { ok: true, output: result.outcome.value };
    else if (result.outcome.case === "error") {
      const error = errorOf(result.outcome.value);
      outcome = {
        ok: false,
        error,
        timedOut: attemptTimedOut(error, held.deadline, this.runtime.clock.now()),
      };
    } else return refuse("result carries neither output nor error: send one of them");
    if (outcome.ok && outcome.output.length > 1024 * 1024) {
      outcome = {
        ok: false,
        error: { message: "output exceeds 1 MiB", code: "output_too_large", retryable: false },
      };
    }
    held.finishing = true;
    this.#finishing++;
    if (outcome.ok) this.#pendingBytes += outcome.output.length;
    this.#pending.push({
      taskId: result.taskId,
      leaseId: result.leaseId,
      result: outcome,
      // Its start is recorded with it unless it already is.
      ...(held.version === undefined
        ? {}
        : { version: held.version, workerId: this.id, startedAt: held.startedAt }),
    });
    // The worker freed its slot when it sent the Result: so does the server, before the commit.
    // A dispatcher waiting for that slot starts the finisher once its claim is issued: the
    // next Assign's round trip to Redis does not queue behind the finish's Postgres write.
    if (this.#nudge) this.#nudge();
    else this.#startFinisher();
  }

  /** Starts the finisher if results wait and it is not running. */
  #startFinisher(): void {
    if (this.#pending.length > 0) this.#finisher ??= this.#finishPending();
  }

  /** Records pending results a batch at a time until none is left; ends the stream if Postgres fails. */
  async #finishPending(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        // A start being recorded finishes first: the batch's statement then sees its attempt row.
        await this.#starts.settled();
        await this.#finishBatch(this.#takeBatch());
      }
    } catch (error) {
      this.runtime.log.error("recording results failed: closing the worker's stream", {
        worker_id: this.id,
        error: String(error),
      });
      this.#pending = [];
      this.#pendingBytes = 0;
      this.out.close();
      for (const [taskId, held] of this.held) {
        // Not recorded: close() gives them back as any held lease.
        if (held.finishing) this.held.set(taskId, { ...held, finishing: false });
      }
      this.#finishing = 0;
    }
    // Set in the same turn as the last check above, so a result arriving later starts a new finisher.
    this.#finisher = undefined;
  }

  #takeBatch(): ResultToRecord[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#pending.length && n < FINISH_BATCH && bytes <= FINISH_BATCH_BYTES) {
      const r = this.#pending[n++].result;
      if (r.ok) bytes += r.output.length;
    }
    this.#pendingBytes -= bytes;
    return this.#pending.splice(0, n);
  }

  async #finishBatch(batch: ResultToRecord[]): Promise<void> {
    await this.runtime.finish(batch, this.id, (tasks) => {
      const acks = batch.map(({ taskId, leaseId }, i): AckInit => {
        const held = this.held.get(taskId);
        if (held?.leaseId === leaseId) {
          this.held.delete(taskId);
          if (held.finishing) this.#finishing--;
        }
        const accepted = tasks[i] !== null;
        const reason = accepted ? "" : "lease expired: the task was given to another worker";
        return { taskId, leaseId, accepted, reason };
      });
      this.#sendAcks(acks);
      // After the acks: freeing the last slot of a draining worker closes its stream.
      this.#freeSlot();
    });
  }

  /** The stream ended: every lease still held goes back at once rather than waiting out its TTL. */
  async close(): Promise<void> {
    this.out.close();
    this.#nudge?.();
    this.#starts.stop();
    // Results that arrived are recorded first: those tasks are done, not to be run again.
    this.#startFinisher();
    await this.#finisher;
    const held = [...this.held];
    this.held.clear();
    for (const [taskId, { leaseId, version }] of held) {
      await this.runtime.takeBack({ taskId, leaseId, workerId: this.id }, "lease_expired", version);
    }
  }
}

function errorOf(e: TaskError) {
  return { ...boundedError(e), code: e.code.slice(0, 100), retryable: e.retryable };
}
