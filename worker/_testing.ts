/**
 * For the worker's tests: a worker on a manual clock, connected to a scripted
 * server over a real socket, and a handler the test opens and closes like a gate.
 */
import type { Handler, TaskContext } from "./handler.ts";
import { ManualClock } from "./clock.ts";
import { createMemoryLogger, type MemoryLogger } from "./log.ts";
import type { HandlerOutput } from "./payload.ts";
import {
  type ScriptedServer,
  type ScriptedStream,
  startScriptedServer,
  welcome,
} from "./_scripted_server.ts";
import { createWorker, type Worker, type WorkerOptions } from "./worker.ts";

/** Handlers that run until the test releases them (or their signal aborts). */
export class Gate {
  #started = new Map<string, PromiseWithResolvers<TaskContext>>();
  #released = new Map<string, PromiseWithResolvers<HandlerOutput>>();

  #slot<T>(map: Map<string, PromiseWithResolvers<T>>, taskId: string): PromiseWithResolvers<T> {
    let slot = map.get(taskId);
    if (!slot) map.set(taskId, slot = Promise.withResolvers<T>());
    return slot;
  }

  readonly handler: Handler = (_payload, ctx) => {
    this.#slot(this.#started, ctx.taskId).resolve(ctx);
    const released = this.#slot(this.#released, ctx.taskId).promise;
    const aborted = new Promise<never>((_, reject) => {
      if (ctx.signal.aborted) reject(ctx.signal.reason);
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    });
    return Promise.race([released, aborted]);
  };

  /** Resolves with the handler's context once the task's handler runs. */
  started(taskId: string): Promise<TaskContext> {
    return this.#slot(this.#started, taskId).promise;
  }

  /** Lets the task's handler return `value`. */
  release(taskId: string, value: HandlerOutput = undefined): void {
    this.#slot(this.#released, taskId).resolve(value);
  }

  /** Makes the task's handler throw `error`. */
  fail(taskId: string, error: unknown): void {
    this.#slot(this.#released, taskId).reject(error);
  }
}

export interface Harness extends AsyncDisposable {
  server: ScriptedServer;
  clock: ManualClock;
  log: MemoryLogger;
  worker: Worker;
  /** What start() returned. */
  done: Promise<void>;
  /** Takes the worker's next stream, reads its Hello, sends Welcome and waits until the worker took it. */
  connect(heartbeatMs?: number, leaseTtlMs?: number): Promise<ScriptedStream>;
}

export async function startHarness(options: Partial<WorkerOptions> = {}): Promise<Harness> {
  const server = await startScriptedServer();
  const clock = new ManualClock();
  const log = createMemoryLogger();
  const worker = createWorker({
    url: server.url,
    apiKey: "test-key",
    queues: ["emails", "default"],
    concurrency: 2,
    handlers: { noop: () => {} },
    workerId: "worker-1",
    clock,
    log,
    random: () => 0.5,
    ...options,
  });
  const done = worker.start();
  // Tests that expect a failure await `done` themselves; the rest must not see it unhandled.
  done.catch(() => {});
  let connections = 0;
  return {
    server,
    clock,
    log,
    worker,
    done,
    async connect(heartbeatMs = 1000, leaseTtlMs = 2000) {
      const stream = await server.nextStream();
      await stream.nextOf("hello");
      stream.send(welcome(heartbeatMs, leaseTtlMs));
      await log.waitFor("connected", ++connections);
      return stream;
    },
    async [Symbol.asyncDispose]() {
      await worker.stop();
      await server.close();
    },
  };
}
