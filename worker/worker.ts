/**
 * createWorker: a worker process's connection to taskmesh. It keeps one
 * WorkerService.Connect stream open (reconnecting with capped, jittered backoff when
 * it fails), runs the tasks assigned on it, and drains or stops on request.
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { WorkerService } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { backoffDelay, type BackoffOptions } from "./_backoff.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Handlers } from "./handler.ts";
import { createLogger, type Logger } from "./log.ts";
import { Session } from "./_session.ts";

export const WORKER_VERSION = "taskmesh-worker-ts/0.1.0";

export interface WorkerOptions {
  /** The server, e.g. http://127.0.0.1:8080 (ignored when `transport` is given). */
  url?: string;
  /** An API key with the `worker` scope. */
  apiKey: string;
  /** Queues to take tasks from, 1–32. */
  queues: string[];
  /** Most tasks run at once, 1–1000: the credits the server may use. */
  concurrency: number;
  /** Handlers by task type; their keys are announced as the task types this worker runs. */
  handlers: Handlers;
  /** Stable across reconnects (default host:pid:random). */
  workerId?: string;
  version?: string;
  labels?: Record<string, string>;
  log?: Logger;
  clock?: Clock;
  /** A ready transport (default: gRPC over HTTP/2 to `url`). */
  transport?: Transport;
  /** Reconnect backoff (default: first delay up to 250 ms, growing to at most 30 s). */
  backoff?: BackoffOptions;
  /** Jitter source in [0,1) (default Math.random). */
  random?: () => number;
  /** How long drain() lets running tasks finish before aborting them (default 30 s). */
  drainTimeoutMs?: number;
  /** How long an aborted handler may take to stop before its result is given up on (default 5 s). */
  abortGraceMs?: number;
  /**
   * Ask the server for batched stream messages (default true): several Assigns, Results or
   * ResultAcks in one message when they come together. false speaks one message per item.
   */
  batches?: boolean;
}

export type WorkerState =
  /** Created, not started. */
  | "idle"
  /** Opening a stream, before Welcome. */
  | "connecting"
  /** Welcomed: taking tasks. */
  | "connected"
  /** The stream failed; waiting out the backoff. */
  | "reconnecting"
  /** Finishing what it holds, taking nothing new. */
  | "draining"
  /** Done: start() has resolved (or rejected). */
  | "stopped";

export interface Worker {
  readonly id: string;
  readonly state: WorkerState;
  /** Connects and works until drained or stopped; rejects on an error retrying cannot fix (bad key, bad Hello). */
  start(): Promise<void>;
  /** Takes nothing new, finishes and reports running tasks, closes; resolves when stopped. */
  drain(): Promise<void>;
  /** Closes the stream now; running handlers are aborted and report nothing. Resolves when stopped. */
  stop(): Promise<void>;
}

/** Errors that the same request will meet again: reconnecting cannot help. */
const FATAL = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument]);

function defaultWorkerId(): string {
  let host = "worker";
  try {
    host = Deno.hostname();
  } catch {
    // Without --allow-sys the host name is unknown; the pid and random part still make it unique.
  }
  return `${host}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
}

function validate(o: WorkerOptions): void {
  if (!o.apiKey) throw new TypeError("apiKey is empty: pass an API key with the worker scope");
  if (!o.transport && !o.url) {
    throw new TypeError("url is empty: pass the server's URL, e.g. http://127.0.0.1:8080");
  }
  if (!Array.isArray(o.queues) || o.queues.length < 1 || o.queues.length > 32 || o.queues.some((q) => !q)) {
    throw new RangeError("queues must name 1–32 non-empty queues");
  }
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 1000) {
    throw new RangeError(`concurrency must be a whole number from 1 to 1000, not ${o.concurrency}`);
  }
  if (typeof o.handlers !== "object" || o.handlers === null) {
    throw new TypeError("handlers must map task types to functions");
  }
  if (Object.keys(o.handlers).length === 0) {
    // An empty task_types list means "any type" to the server: every task would fail here for good.
    throw new TypeError("handlers is empty: give the worker at least one handler");
  }
  for (const [type, handler] of Object.entries(o.handlers)) {
    if (typeof handler !== "function") throw new TypeError(`the handler for ${type} is not a function`);
  }
}

export function createWorker(options: WorkerOptions): Worker {
  validate(options);
  const clock = options.clock ?? systemClock;
  const id = options.workerId ?? defaultWorkerId();
  const log = (options.log ?? createLogger()).child({ worker_id: id });
  const random = options.random ?? Math.random;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const abortGraceMs = options.abortGraceMs ?? 5_000;
  const transport = options.transport ?? createGrpcTransport({
    baseUrl: options.url!,
    // A server that vanished without closing TCP is noticed by an unanswered PING.
    pingIntervalMs: 10_000,
    pingTimeoutMs: 5_000,
  });
  const client = createClient(WorkerService, transport);
  const hello = {
    workerId: id,
    queues: [...options.queues],
    concurrency: options.concurrency,
    labels: { ...options.labels },
    version: options.version ?? WORKER_VERSION,
    taskTypes: Object.keys(options.handlers),
  };

  let state: WorkerState = "idle";
  let session: Session | undefined;
  let running: Promise<void> | undefined;
  let draining = false;
  const stopping = new AbortController();
  const leaving = new AbortController(); // aborted by drain or stop: ends a backoff wait

  const loop = async () => {
    let failures = 0;
    while (!leaving.signal.aborted) {
      state = "connecting";
      const current = new Session({
        client,
        apiKey: options.apiKey,
        hello,
        concurrency: options.concurrency,
        handlers: options.handlers,
        clock,
        log,
        abortGraceMs,
        closeGraceMs: abortGraceMs,
        batches: options.batches ?? true,
        onWelcome: () => {
          failures = 0;
          if (!draining) state = "connected";
        },
        onDrain: () => {
          draining = true;
          state = "draining";
          leaving.abort();
        },
      });
      session = current;
      try {
        const end = await current.run();
        if (end !== "ended") return;
        log.warn("the server ended the stream");
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof ConnectError && FATAL.has(error.code)) {
          log.error("the server refused this worker: not retrying", { error, code: Code[error.code] });
          throw error;
        }
        log.warn("the stream failed", { error });
      } finally {
        session = undefined;
      }
      // A stream that died while draining took its tasks with it: nothing is left to finish.
      if (leaving.signal.aborted) return;
      const delay = backoffDelay(failures++, options.backoff ?? {}, random);
      state = "reconnecting";
      log.info("reconnecting", { delay_ms: delay, attempt: failures });
      try {
        await clock.sleep(delay, leaving.signal);
      } catch {
        return;
      }
    }
  };

  const worker: Worker = {
    id,
    get state() {
      return state;
    },
    start() {
      if (running) return running;
      if (leaving.signal.aborted) {
        state = "stopped";
        return running = Promise.resolve();
      }
      log.info("worker starting", {
        queues: hello.queues,
        concurrency: hello.concurrency,
        task_types: hello.taskTypes,
      });
      running = loop().finally(() => {
        state = "stopped";
        log.info("worker stopped");
      });
      return running;
    },
    drain() {
      if (!draining && !stopping.signal.aborted) {
        draining = true;
        if (state !== "idle" && state !== "stopped") state = "draining";
        leaving.abort();
        session?.drain(clock.now() + drainTimeoutMs);
      }
      return settle();
    },
    stop() {
      if (!stopping.signal.aborted) {
        stopping.abort();
        leaving.abort();
        session?.stop();
      }
      return settle();
    },
  };
  // drain() and stop() wait for the loop but do not report its failure: start() does.
  const settle = async () => {
    if (!running) {
      state = "stopped";
      return;
    }
    await running.catch(() => {});
  };
  return worker;
}
