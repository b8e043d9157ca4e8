/**
 * One WorkerService.Connect stream, worker side: Hello, then Welcome; tasks run as
 * Assigns arrive; Heartbeats list the leases held; one Result per Assign; Cancel and
 * Drain obeyed. A session never outlives its stream: when the stream dies, its
 * handlers are aborted (lease_lost) and their results are dropped, because the server
 * gives their tasks back to the queue and would refuse those results anyway.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  type Assign,
  type Cancel,
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  type HelloSchema,
  type ResultAck,
  ResultSchema,
  type Welcome,
  type WorkerService,
} from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import type { Clock } from "./clock.ts";
import type { AbortReason } from "./errors.ts";
import type { Handlers } from "./handler.ts";
import type { Logger } from "./log.ts";
import { Outbox } from "./_outbox.ts";
import { type Outcome, TaskRun } from "./_task_run.ts";

/** Used when a Welcome carries no interval; the server's default too. */
const DEFAULT_HEARTBEAT_MS = 1000;
/** A floor so a misconfigured server cannot make the worker spin. */
const MIN_HEARTBEAT_MS = 10;
/** Output and error bytes past which a ResultBatch is cut, well under a server's 4 MiB message limit. */
const RESULT_BATCH_BYTES = 1024 * 1024;

export interface SessionOptions {
  client: Client<typeof WorkerService>;
  apiKey: string;
  hello: MessageInitShape<typeof HelloSchema>;
  concurrency: number;
  handlers: Handlers;
  clock: Clock;
  log: Logger;
  abortGraceMs: number;
  /** How long the server may take to end the stream once the last result is sent. */
  closeGraceMs: number;
  onWelcome(welcome: Welcome): void;
  /** Ask for batched messages in the Hello (default true). */
  batches?: boolean;
  /** The server sent Drain. */
  onDrain(): void;
}

/** How a stream ended without failing: drained as asked, ended by the server, or stopped by us. */
export type SessionEnd = "drained" | "ended" | "stopped";

type Request = MessageInitShape<typeof ConnectRequestSchema>["message"];
type ResultInit = MessageInitShape<typeof ResultSchema>;

function abortReasonOf(wire: string): AbortReason {
  return wire === "lease_lost" || wire === "timeout" ? wire : "cancelled";
}

export class Session {
  readonly #o: SessionOptions;
  readonly #outbox: Outbox<ConnectRequest>;
  /** Ends the RPC. */
  readonly #stream = new AbortController();
  /** Ends the session's timers (heartbeats, drain deadline, close grace). */
  readonly #life = new AbortController();
  /** Running attempts by lease id: a lease names one attempt, a task id may come back. */
  readonly #running = new Map<string, TaskRun>();
  #welcomed = false;
  #draining = false;
  #stopped = false;
  #failure: unknown;
  #heartbeatMs = DEFAULT_HEARTBEAT_MS;
  /** The server takes ResultBatch (its Welcome said so). */
  #batches = false;
  /** The outbox key of the ResultBatch still being filled, and the bytes it carries. */
  #resultsKey = "";
  #resultsSeq = 0;
  #resultsBytes = 0;

  constructor(options: SessionOptions) {
    this.#o = options;
    // Hello, a heartbeat, and per slot one result and one progress report (keyed, so
    // they coalesce); the slack absorbs refusals of Assigns sent past the credits.
    this.#outbox = new Outbox(options.concurrency * 2 + 16);
  }

  get welcomed(): boolean {
    return this.#welcomed;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  async run(): Promise<SessionEnd> {
    const { client, apiKey, hello } = this.#o;
    // Batches are asked for; the Welcome says whether this server sends and takes them.
    this.#send({ case: "hello", value: { ...hello, batches: this.#o.batches ?? true } });
    const responses = client.connect(this.#outbox, {
      signal: this.#stream.signal,
      headers: { authorization: `Bearer ${apiKey}` },
    });
    try {
      for await (const response of responses) this.#handle(response);
      if (this.#failure) throw this.#failure;
      if (this.#stopped) return "stopped";
      return this.#draining ? "drained" : "ended";
    } catch (error) {
      if (this.#stopped) return "stopped";
      if (this.#failure) throw this.#failure;
      // We closed the stream ourselves after the last result: the drain is complete.
      if (this.#draining && this.#outbox.closed && this.#running.size === 0) return "drained";
      throw error;
    } finally {
      this.#life.abort();
      this.#outbox.close();
      const orphans = [...this.#running.values()];
      this.#running.clear();
      if (orphans.length > 0) {
        this.#o.log.warn("stream closed with tasks running: aborting them, the server requeues them", {
          tasks: orphans.map((r) => r.info.taskId),
        });
      }
      for (const run of orphans) run.abort(this.#stopped ? "shutdown" : "lease_lost");
      this.#stream.abort();
    }
  }

  /**
   * Takes nothing new, lets running tasks finish and report, then closes the stream.
   * Past `deadline` (ms since the epoch), running handlers are aborted.
   */
  drain(deadline?: number, fromServer = false): void {
    if (this.#draining) return;
    this.#draining = true;
    // Tell the server, so it stops assigning; a Drain from the server needs no echo.
    if (!fromServer && this.#welcomed && !this.#outbox.closed) {
      this.#send({
        case: "drain",
        value: { deadline: deadline === undefined ? undefined : timestampFromMs(deadline) },
      });
    }
    if (deadline !== undefined) {
      this.#o.clock.sleep(deadline - this.#o.clock.now(), this.#life.signal).then(
        () => this.#drainExpired(),
        () => {},
      );
    }
    this.#maybeClose();
  }

  /** Ends the stream now; running handlers are aborted and report nothing. */
  stop(): void {
    this.#stopped = true;
    this.#stream.abort();
  }

  #handle(response: ConnectResponse): void {
    const m = response.message;
    if (!this.#welcomed && m.case !== "welcome") {
      return this.#fail(
        new Error(`protocol error: the server sent ${m.case ?? "an empty message"} before Welcome`),
      );
    }
    switch (m.case) {
      case "welcome":
        return this.#welcome(m.value);
      case "assign":
        return this.#assign(m.value);
      case "batch":
        for (const ack of m.value.resultAcks) this.#ack(ack);
        for (const assign of m.value.assigns) this.#assign(assign);
        return;
      case "cancel":
        return this.#cancel(m.value);
      case "drain":
        this.#o.log.info("server asked this worker to drain");
        this.#o.onDrain();
        return this.drain(m.value.deadline ? timestampMs(m.value.deadline) : undefined, true);
      case "resultAck":
        return this.#ack(m.value);
      default:
        // A newer server may send messages this worker does not know; they must not break it.
        this.#o.log.debug("ignoring a message this worker does not understand");
    }
  }

  #welcome(welcome: Welcome): void {
    if (this.#welcomed) return this.#o.log.warn("ignoring a second Welcome on the same stream");
    this.#welcomed = true;
    this.#batches = welcome.batches;
    const interval = welcome.heartbeatInterval ? durationMs(welcome.heartbeatInterval) : 0;
    this.#heartbeatMs = interval > 0 ? Math.max(MIN_HEARTBEAT_MS, interval) : DEFAULT_HEARTBEAT_MS;
    const leaseTtlMs = welcome.leaseTtl ? durationMs(welcome.leaseTtl) : 0;
    this.#o.log.info("connected", {
      server_id: welcome.serverId,
      heartbeat_ms: this.#heartbeatMs,
      lease_ttl_ms: leaseTtlMs,
    });
    if (leaseTtlMs > 0 && leaseTtlMs <= this.#heartbeatMs) {
      this.#o.log.warn(
        "the lease TTL is not longer than the heartbeat interval: leases may expire between beats",
      );
    }
    this.#o.onWelcome(welcome);
    void this.#heartbeats();
  }

  async #heartbeats(): Promise<void> {
    const { clock } = this.#o;
    while (true) {
      try {
        await clock.sleep(this.#heartbeatMs, this.#life.signal);
      } catch {
        return;
      }
      if (this.#outbox.closed) return;
      const leases = [...this.#running.values()].map((r) => ({
        taskId: r.info.taskId,
        leaseId: r.info.leaseId,
      }));
      this.#send(
        { case: "heartbeat", value: { leases, load: leases.length / this.#o.concurrency } },
        "heartbeat",
      );
    }
  }

  #assign(assign: Assign): void {
    const { log, handlers, concurrency } = this.#o;
    const task = assign.task;
    const leaseId = assign.leaseId;
    if (!task?.id || !leaseId) {
      return this.#fail(new Error("protocol error: Assign without a task id or lease id"));
    }
    const refuse = (message: string, code: string) => {
      log.warn("refusing an assignment", { task_id: task.id, code });
      this.#sendResult({ taskId: task.id, leaseId, outcome: error(message, code, true) });
    };
    if (this.#running.has(leaseId)) return log.debug("ignoring a repeated Assign", { task_id: task.id });
    // A drain the worker started (SIGTERM) is told to the server with Drain, but an Assign may already be on
    // its way. Refuse it: the server puts a refused task back in its queue without counting an attempt.
    if (this.#draining) {
      return refuse("worker is draining: the task goes back to its queue", "worker_draining");
    }
    if (this.#running.size >= concurrency) {
      return refuse("worker has no free slot: the server sent more tasks than its credits", "no_free_slot");
    }
    const spec = task.spec;
    const type = spec?.type ?? "";
    const run = new TaskRun(
      {
        taskId: task.id,
        leaseId,
        type,
        queue: spec?.queue ?? "",
        attempt: assign.attempt,
        payload: spec?.payload ?? new Uint8Array(),
        deadline: assign.deadline ? timestampMs(assign.deadline) : undefined,
        traceparent: assign.traceparent,
      },
      Object.hasOwn(handlers, type) ? handlers[type] : undefined,
      {
        clock: this.#o.clock,
        log,
        abortGraceMs: this.#o.abortGraceMs,
        progress: (percent, message) =>
          this.#send(
            { case: "progress", value: { taskId: task.id, leaseId, percent, message } },
            `p:${leaseId}`,
          ),
      },
    );
    this.#running.set(leaseId, run);
    log.debug("task started", { task_id: task.id, type, attempt: assign.attempt });
    const started = this.#o.clock.now();
    void run.run().then((outcome) => this.#finished(run, outcome, this.#o.clock.now() - started));
  }

  #finished(run: TaskRun, outcome: Outcome, ms: number): void {
    const { taskId, leaseId } = run.info;
    // Gone from the map means its stream died: the result belongs to no live stream.
    if (this.#running.get(leaseId) !== run) return;
    this.#running.delete(leaseId);
    const fields = { task_id: taskId, type: run.info.type, duration_ms: ms, ...run.traceIds };
    if (outcome.case === "output") this.#o.log.info("task succeeded", fields);
    else {this.#o.log.info("task failed", {
        ...fields,
        code: outcome.value.code,
        retryable: outcome.value.retryable,
      });}
    this.#sendResult({ taskId, leaseId, outcome });
    this.#maybeClose();
  }

  #cancel(cancel: Cancel): void {
    const run = this.#running.get(cancel.leaseId);
    if (!run || run.info.taskId !== cancel.taskId) {
      return this.#o.log.debug("ignoring Cancel for a task this worker does not run", {
        task_id: cancel.taskId,
      });
    }
    run.abort(abortReasonOf(cancel.reason));
  }

  #ack(ack: ResultAck): void {
    if (ack.accepted) return this.#o.log.debug("result accepted", { task_id: ack.taskId });
    // Refused means fenced: the lease expired or was taken back, and the task's fate is decided elsewhere.
    this.#o.log.warn("result refused: the lease was lost", { task_id: ack.taskId, reason: ack.reason });
  }

  #drainExpired(): void {
    if (this.#running.size === 0) return;
    this.#o.log.warn("drain deadline passed: aborting the tasks still running", {
      tasks: this.#running.size,
    });
    for (const run of this.#running.values()) run.abort("shutdown");
  }

  /** Once draining and idle, half-closes the request stream and waits (a bounded time) for the server to end it. */
  #maybeClose(): void {
    if (!this.#draining || this.#running.size > 0 || this.#outbox.closed) return;
    this.#o.log.info("drained: closing the stream");
    this.#outbox.close();
    this.#o.clock.sleep(this.#o.closeGraceMs, this.#life.signal).then(() => {
      this.#o.log.warn("the server did not end the stream after the drain: closing it");
      this.#stream.abort();
    }, () => {});
  }

  /**
   * Queues a Result. With batches, results that finish before the transport takes the
   * pending ResultBatch join it: no timer, so a lone result goes as soon as it would alone,
   * and results that end in the same turn (or while the stream is busy) share one message.
   */
  #sendResult(result: ResultInit): void {
    if (!this.#batches) return this.#send({ case: "result", value: result });
    const outcome = result.outcome;
    const bytes = outcome?.case === "output"
      ? outcome.value.length
      : (outcome?.value?.message?.length ?? 0) + (outcome?.value?.stack?.length ?? 0) + 128;
    const pending = this.#outbox.pending(this.#resultsKey)?.message;
    if (
      pending?.case === "results" && pending.value.results.length < this.#o.concurrency &&
      this.#resultsBytes + bytes <= RESULT_BATCH_BYTES
    ) {
      pending.value.results.push(create(ResultSchema, result));
      this.#resultsBytes += bytes;
      return;
    }
    this.#resultsKey = `results:${++this.#resultsSeq}`;
    this.#resultsBytes = bytes;
    this.#send({ case: "results", value: { results: [result] } }, this.#resultsKey);
  }

  #send(message: Request, key?: string): void {
    if (this.#outbox.push(create(ConnectRequestSchema, { message }), key) || this.#outbox.closed) return;
    this.#fail(new Error("request stream is full: the server is not reading it"));
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#stream.abort(error);
  }
}

function error(message: string, code: string, retryable: boolean): Outcome {
  return { case: "error", value: { message, code, retryable } };
}
