/**
 * One worker's bidi stream, server side. It owns the worker's credits (never more
 * tasks in flight than its concurrency), its leases, and what it is told: Assign,
 * Cancel, Drain and ResultAck. Results are fenced by lease id in Postgres, so a
 * stale or foreign result changes nothing.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { TaskError } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  type Heartbeat,
  type Hello,
  type Result,
} from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { Channel } from "./_channel.ts";
import { taskToProto } from "./_convert.ts";
import { invalid, validLabels, validQueue, validType } from "./_spec.ts";
import { boundedInt, text } from "../kit/validate.ts";
import type { WorkerEntry } from "./runtime.ts";
import type { AttemptResult } from "./model.ts";
import type { TasksRuntime } from "./runtime.ts";
import { idleWait } from "./queue_limits.ts";
import { attemptTimedOut } from "./_attempt_outcome.ts";
import { firstMessage } from "./_hello_timeout.ts";
import { boundedError } from "./error_bounds.ts";

interface Held {
  leaseId: string;
  deadline: number;
  /** Its Result arrived and waits to be recorded: the slot is freed once it is. */
  finishing?: boolean;
}

/** A Result waiting for the finisher. */
interface Pending {
  taskId: string;
  leaseId: string;
  result: AttemptResult;
}

/** Grace after an attempt's deadline before the server takes the task back itself. */
const DEADLINE_GRACE_MS = 5000;
/** Most results one finish transaction records, and most output bytes it carries. */
const FINISH_BATCH = 500;
const FINISH_BATCH_BYTES = 8 * 1024 * 1024;
/** Most task types one Hello may declare. */
const MAX_TASK_TYPES = 256;

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
  #pending: Pending[] = [];
  /** The finisher, while it runs: it records every pending result, a batch at a time. */
  #finisher?: Promise<void>;
  /** Set when a queue or group limit kept the last claim short (see idleWait). */
  #limitedFor?: number;

  constructor(readonly runtime: TasksRuntime, readonly hello: Hello, readonly serverId: string) {
    this.connectedAt = runtime.clock.now();
    this.lastHeartbeat = this.connectedAt;
    // Every outgoing message answers a credit, a held lease or a result: this bounds them all.
    this.out = new Channel(hello.concurrency * 3 + 16);
  }

  get id(): string {
    return this.hello.workerId;
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
    if (!this.out.push(create(ConnectResponseSchema, { message }))) {
      this.runtime.log.warn("worker is not reading its stream: closing it", { worker_id: this.id });
      this.out.close();
    }
  }

  /** The lease was lost (expired, or its task cancelled): tell the worker to stop. */
  leaseLost(taskId: string, leaseId: string, reason = "lease_lost"): void {
    const held = this.held.get(taskId);
    if (!held || held.leaseId !== leaseId) return;
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
    this.#freeSlot();
  }

  #freeSlot() {
    this.#nudge?.();
    // While a claim is in flight the dispatcher closes the stream itself once it is back.
    if (this.draining && this.held.size === 0 && !this.#claiming) this.out.close();
  }

  /** Hands out tasks while the worker has free slots; waits for work or a freed slot otherwise. */
  async dispatch(signal: AbortSignal): Promise<void> {
    const { runtime } = this;
    const queues = this.hello.queues;
    while (!signal.aborted && !this.out.closed && !this.draining) {
      const free = this.hello.concurrency - this.held.size;
      if (free <= 0 || this.#suspended) {
        let onAbort!: () => void;
        await new Promise<void>((resolve) => {
          this.#nudge = onAbort = resolve;
          signal.addEventListener("abort", onAbort, { once: true });
        });
        signal.removeEventListener("abort", onAbort);
        this.#nudge = undefined;
        continue;
      }
      this.#claiming = true;
      let leases;
      this.#limitedFor = undefined;
      try {
        leases = await this.#claimAndAssign(free, signal);
      } finally {
        this.#claiming = false;
      }
      if (leases === 0) {
        await runtime.waitForWork(queues, idleWait(runtime.config.tickMs, this.#limitedFor), signal);
      }
    }
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
    if (started.length === 0) return claimed;
    // Only the Assign carries a sealed payload opened; the events below keep the reference.
    const opened = new Map((await runtime.openPayloads(started.map((s) => s.task))).map((t) => [t.id, t]));
    for (const { task, leaseId } of started) {
      if (gone()) {
        await runtime.expireLease({ taskId: task.id, leaseId, workerId: this.id }, "lease_expired");
        continue;
      }
      const deadline = runtime.clock.now() + task.timeoutMs;
      this.held.set(task.id, { leaseId, deadline });
      this.send({
        case: "assign",
        value: {
          task: taskToProto(opened.get(task.id) ?? task),
          attempt: task.attemptNumber,
          leaseId,
          deadline: timestampFromMs(deadline),
          traceparent: task.traceparent ?? "",
        },
      });
      runtime.taskStarted(task);
    }
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
        const percent = Math.min(100, Math.max(0, p.percent));
        return await this.runtime.progress(p.taskId, p.leaseId, percent, p.message.slice(0, 200));
      }
      case "result":
        return this.#result(message.value);
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
      } else if (now > held.deadline + DEADLINE_GRACE_MS) {
        this.held.delete(lease.taskId);
        this.send({
          case: "cancel",
          value: { taskId: lease.taskId, leaseId: lease.leaseId, reason: "timeout" },
        });
        await runtime.takeBack(
          { taskId: lease.taskId, leaseId: lease.leaseId, workerId: this.id },
          "timed_out",
        );
        this.#freeSlot();
      }
    }
    // Beating again: whatever it lost while silent, it may take work again.
    this.#suspended = false;
    this.#nudge?.();
  }

  /**
   * Takes a Result for the finisher; the reader goes straight on to the next message,
   * and results that arrive while a batch is being recorded make up the next one.
   */
  #result(result: Result): void {
    const refuse = (reason: string) =>
      this.send({
        case: "resultAck",
        value: { taskId: result.taskId, leaseId: result.leaseId, accepted: false, reason },
      });
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
    this.#pending.push({ taskId: result.taskId, leaseId: result.leaseId, result: outcome });
    this.#finisher ??= this.#finishPending();
  }

  /** Records pending results a batch at a time until none is left; ends the stream if Postgres fails. */
  async #finishPending(): Promise<void> {
    try {
      while (this.#pending.length > 0) await this.#finishBatch(this.#takeBatch());
    } catch (error) {
      this.runtime.log.error("recording results failed: closing the worker's stream", {
        worker_id: this.id,
        error: String(error),
      });
      this.#pending = [];
      this.out.close();
    }
    // Set in the same turn as the last check above, so a result arriving later starts a new finisher.
    this.#finisher = undefined;
  }

  #takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#pending.length && n < FINISH_BATCH && bytes <= FINISH_BATCH_BYTES) {
      const r = this.#pending[n++].result;
      if (r.ok) bytes += r.output.length;
    }
    return this.#pending.splice(0, n);
  }

  async #finishBatch(batch: Pending[]): Promise<void> {
    await this.runtime.finish(batch, this.id, (tasks) => {
      batch.forEach(({ taskId, leaseId }, i) => {
        const held = this.held.get(taskId);
        if (held?.leaseId === leaseId) this.held.delete(taskId);
        const accepted = tasks[i] !== null;
        const reason = accepted ? "" : "lease expired: the task was given to another worker";
        this.send({ case: "resultAck", value: { taskId, leaseId, accepted, reason } });
      });
      // After the acks: freeing the last slot of a draining worker closes its stream.
      this.#freeSlot();
    });
  }

  /** The stream ended: every lease still held goes back at once rather than waiting out its TTL. */
  async close(): Promise<void> {
    this.out.close();
    this.#nudge?.();
    // Results that arrived are recorded first: those tasks are done, not to be run again.
    await this.#finisher;
    const held = [...this.held];
    this.held.clear();
    for (const [taskId, { leaseId }] of held) {
      await this.runtime.takeBack({ taskId, leaseId, workerId: this.id }, "lease_expired");
    }
  }
}

function errorOf(e: TaskError) {
  return { ...boundedError(e), code: e.code.slice(0, 100), retryable: e.retryable };
}

export function validateHello(hello: Hello): void {
  text("hello.worker_id", hello.workerId, { min: 1, max: 128 });
  if (hello.queues.length < 1 || hello.queues.length > 32) throw invalid("hello.queues", "name 1–32 queues");
  hello.queues.forEach((q, i) => validQueue(q, `hello.queues[${i}]`));
  boundedInt("hello.concurrency", hello.concurrency, 1, 1000);
  validLabels(hello.labels, "hello.labels");
  text("hello.version", hello.version, { max: 128 });
  if (hello.taskTypes.length > MAX_TASK_TYPES) {
    throw invalid("hello.task_types", `names ${hello.taskTypes.length} types: the most is ${MAX_TASK_TYPES}`);
  }
  hello.taskTypes.forEach((t, i) => validType(t, `hello.task_types[${i}]`));
}

/** WorkerService.Connect for one stream. */
export async function* runWorkerSession(
  runtime: TasksRuntime,
  requests: AsyncIterable<ConnectRequest>,
  signal: AbortSignal,
  serverId: string,
  ownerId?: string,
): AsyncGenerator<ConnectResponse> {
  const it = requests[Symbol.asyncIterator]();
  const first = await firstMessage(it, runtime.config.helloTimeoutMs ?? 10_000, runtime.clock, signal);
  if (first.done || first.value.message.case !== "hello") {
    throw new ConnectError(
      "the first message must be Hello: send worker id, queues and concurrency",
      Code.InvalidArgument,
    );
  }
  const hello = first.value.message.value;
  validateHello(hello);
  await refuseTakeover(runtime, hello.workerId, ownerId);
  const session = new WorkerSession(runtime, hello, serverId);
  session.ownerId = ownerId;
  // A worker reconnecting under the same id: its old stream is dead even if TCP has not noticed.
  await runtime.attach(session)?.close();
  runtime.log.info("worker connected", {
    worker_id: hello.workerId,
    queues: hello.queues,
    concurrency: hello.concurrency,
  });
  session.send({
    case: "welcome",
    value: {
      heartbeatInterval: durationFromMs(runtime.config.heartbeatMs),
      leaseTtl: durationFromMs(runtime.config.leaseTtlMs),
      serverId,
    },
  });
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  let failure: unknown;
  const reader = (async () => {
    try {
      while (!both.aborted) {
        const next = await it.next();
        // A revoked credential aborts the signal: what arrives after that is not taken.
        if (next.done || both.aborted) break;
        await session.handle(next.value);
      }
    } catch (error) {
      failure = error;
    } finally {
      session.out.close();
    }
  })();
  const dispatcher = session.dispatch(both).catch((error) => {
    failure ??= error;
    session.out.close();
  });
  try {
    yield* session.out.drain(both);
    if (failure) throw failure;
  } finally {
    stop.abort();
    // A newer stream of the same worker on this instance owns the registry entry then.
    await runtime.detach(session);
    await session.close();
    // Not the reader: it may be parked on the request stream until the transport is torn down.
    void reader;
    await dispatcher;
    runtime.log.info("worker disconnected", { worker_id: hello.workerId });
  }
}

/**
 * A worker id connected under another owner's key (on any instance) is not theirs to
 * take: its stream would be cut and its tasks' results refused.
 */
async function refuseTakeover(runtime: TasksRuntime, workerId: string, ownerId: string | undefined) {
  const current = runtime.session(workerId)?.ownerId ??
    (await runtime.workers()).find((w) => w.id === workerId)?.ownerId;
  if (current && ownerId && current !== ownerId) {
    throw new ConnectError(
      `worker id ${JSON.stringify(workerId)} is connected with another owner's key: choose another worker id`,
      Code.PermissionDenied,
    );
  }
}
