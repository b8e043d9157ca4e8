/**
 * The taskmesh worker SDK: run task handlers in any Deno program, connected to a
 * taskmesh server over WorkerService.Connect. docs/WORKERS.md describes the protocol.
 *
 * ```ts
 * import { createWorker, json } from "./worker/mod.ts";
 *
 * const worker = createWorker({
 *   url: "http://127.0.0.1:8080",
 *   apiKey: Deno.env.get("TASKMESH_API_KEY")!,
 *   queues: ["default"],
 *   concurrency: 10,
 *   handlers: {
 *     "report.build": async (payload, ctx) => {
 *       const { id } = json<{ id: string }>(payload);
 *       ctx.progress(50, "halfway");
 *       return { id, built: true };
 *     },
 *   },
 * });
 * Deno.addSignalListener("SIGTERM", () => worker.drain());
 * await worker.start();
 * ```
 */
export { createWorker, type Worker, WORKER_VERSION, type WorkerOptions, type WorkerState } from "./worker.ts";
export type { Handler, Handlers, TaskContext } from "./handler.ts";
export { type AbortReason, PermanentError, TaskAbortedError } from "./errors.ts";
export { encodeOutput, type HandlerOutput, json } from "./payload.ts";
export { type Clock, ManualClock, systemClock } from "./clock.ts";
export { createLogger, createMemoryLogger, type Logger, type LogLevel, type MemoryLogger } from "./log.ts";
export type { BackoffOptions } from "./_backoff.ts";
export { builtinHandlers, noop, sleep } from "./handlers/mod.ts";
