/**
 * One attempt of one task on this worker: runs the handler with its abort signal,
 * enforces the attempt's deadline, and always ends in exactly one outcome for the
 * Result, whatever the handler does (returns, throws, or ignores its signal).
 */
import type { Clock } from "./clock.ts";
import { type AbortReason, PermanentError, TaskAbortedError } from "./errors.ts";
import type { Handler, TaskContext } from "./handler.ts";
import type { Logger } from "./log.ts";
import { encodeOutput } from "./payload.ts";
import { inHandlerSpan } from "./_tracing.ts";

/** The server's limits on what a Result may carry. */
const MAX_OUTPUT_BYTES = 1024 * 1024;
const MAX_ERROR_MESSAGE = 4096;
const MAX_ERROR_STACK = 16_384;

export interface AttemptInfo {
  taskId: string;
  leaseId: string;
  type: string;
  queue: string;
  attempt: number;
  payload: Uint8Array;
  /** Ms since the epoch, from Assign.deadline. */
  deadline?: number;
  /** From Assign.traceparent: the handler span's parent when tracing (_tracing.ts). */
  traceparent?: string;
}

export interface ErrorOutcome {
  message: string;
  code: string;
  retryable: boolean;
  /** Where the handler threw: shown with the attempt in GetTask and the TUI ("" when none). */
  stack?: string;
}

/** Shaped like Result.outcome, so it drops straight into the message. */
export type Outcome = { case: "output"; value: Uint8Array } | { case: "error"; value: ErrorOutcome };

export interface TaskRunDeps {
  clock: Clock;
  log: Logger;
  /** How long an aborted handler may take to notice before its result is given up on. */
  abortGraceMs: number;
  /** Where the handler's progress reports go while the attempt runs. */
  progress(percent: number, message: string): void;
}

const ABORTED: Record<AbortReason, ErrorOutcome> = {
  cancelled: { code: "cancelled", retryable: false, message: "task was cancelled while it ran" },
  lease_lost: {
    code: "lease_lost",
    retryable: true,
    message: "lease lost: the task may be given to another worker",
  },
  timeout: {
    code: "timeout",
    retryable: true,
    message: "attempt ran past its deadline: the handler was aborted",
  },
  shutdown: {
    code: "worker_shutdown",
    retryable: true,
    message: "worker stopped before the handler finished",
  },
};

function failure(message: string, code: string, retryable: boolean, stack = ""): Outcome {
  return {
    case: "error",
    value: {
      message: message.slice(0, MAX_ERROR_MESSAGE),
      code,
      retryable,
      stack: stack.slice(0, MAX_ERROR_STACK),
    },
  };
}

/** What a thrown value tells the server. */
export function outcomeOfError(error: unknown): Outcome {
  if (error instanceof PermanentError) return failure(error.message, error.code, false, error.stack);
  if (error instanceof TaskAbortedError) return failure(error.message, ABORTED[error.reason].code, true);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || error.name;
    return failure(message, typeof code === "string" ? code : "handler_error", true, error.stack);
  }
  return failure(String(error), "handler_error", true);
}

/** Why an attempt's own timers stop: it ended. Nobody sees it; sleeps it ends are ignored. */
const ATTEMPT_OVER = new Error("the attempt is over");

export class TaskRun {
  readonly #controller = new AbortController();
  #finished = false;
  /** The handler span's ids, when tracing: the attempt's log lines carry them. */
  traceIds?: { trace_id: string; span_id: string };

  constructor(
    readonly info: AttemptInfo,
    readonly handler: Handler | undefined,
    readonly deps: TaskRunDeps,
  ) {}

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts the handler's signal; the first reason wins. */
  abort(reason: AbortReason): void {
    if (this.#controller.signal.aborted || this.#finished) return;
    this.deps.log.info("task aborted", { task_id: this.info.taskId, reason });
    this.#controller.abort(new TaskAbortedError(reason, ABORTED[reason].message));
  }

  /** Runs the attempt; never rejects. */
  async run(): Promise<Outcome> {
    const timers = new AbortController();
    try {
      return await inHandlerSpan(
        this.info,
        (ids) => {
          this.traceIds = ids;
          return this.#run(timers.signal, ids);
        },
        (outcome) => outcome.case === "error" ? outcome.value.code : undefined,
      );
    } finally {
      this.#finished = true;
      // A ready reason: abort() without one builds a DOMException and its stack, per task.
      timers.abort(ATTEMPT_OVER);
    }
  }

  async #run(timers: AbortSignal, traceIds?: { trace_id: string; span_id: string }): Promise<Outcome> {
    const { info, deps, signal } = this;
    if (!this.handler) return failure(`no handler for type ${info.type}`, "no_handler", false);
    if (info.deadline !== undefined) {
      const left = info.deadline - deps.clock.now();
      // Armed before the handler starts, so a test that sees the handler running can move time past it.
      if (left <= 0) this.abort("timeout");
      else deps.clock.sleep(left, timers).then(() => this.abort("timeout"), () => {});
    }
    const reasonOf = () => (signal.reason as TaskAbortedError).reason;
    if (signal.aborted) return { case: "error", value: ABORTED[reasonOf()] };
    const log = deps.log.child({ task_id: info.taskId, attempt: info.attempt, type: info.type, ...traceIds });
    const ctx: TaskContext = {
      taskId: info.taskId,
      attempt: info.attempt,
      type: info.type,
      queue: info.queue,
      signal,
      deadline: info.deadline,
      log,
      clock: deps.clock,
      progress: (percent, message = "") => {
        if (this.#finished || !Number.isFinite(percent)) return;
        deps.progress(Math.min(100, Math.max(0, percent)), String(message).slice(0, 200));
      },
    };
    const handler = this.handler;
    const settled = (async () => await handler(info.payload, ctx))().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    const gaveUp = aborted.then(() => deps.clock.sleep(deps.abortGraceMs, timers)).then(
      () => "gave_up" as const,
      () => "gave_up" as const,
    );
    const first = await Promise.race([settled, gaveUp]);
    if (signal.aborted) {
      // Whatever the handler did after its abort, the attempt ended for the abort's reason.
      if (first === "gave_up") {
        log.warn("handler ignored its abort signal: reporting the abort without waiting for it", {
          grace_ms: deps.abortGraceMs,
        });
      }
      return { case: "error", value: ABORTED[reasonOf()] };
    }
    if (first === "gave_up") throw new Error("unreachable: gave up without an abort");
    if (!first.ok) return outcomeOfError(first.error);
    let output: Uint8Array;
    try {
      output = encodeOutput(first.value);
    } catch (error) {
      return failure(`handler output cannot be JSON-encoded: ${String(error)}`, "bad_output", false);
    }
    if (output.length > MAX_OUTPUT_BYTES) {
      return failure(
        `handler output is ${output.length} bytes: the limit is 1 MiB`,
        "output_too_large",
        false,
      );
    }
    return { case: "output", value: output };
  }
}
