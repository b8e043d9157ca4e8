/**
 * What a task handler is and what it is handed. A handler runs one attempt of one
 * task; the worker turns its return value or thrown error into exactly one Result.
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { HandlerOutput } from "./payload.ts";

export interface TaskContext {
  /** The task id (a UUID chosen by the server). */
  readonly taskId: string;
  /** The 1-based number of this attempt. */
  readonly attempt: number;
  /** The task type, which picked this handler. */
  readonly type: string;
  /** The queue the task came from. */
  readonly queue: string;
  /**
   * Aborts when the attempt must stop: cancelled by an operator, lease lost, past its
   * deadline, or the worker stopping. `signal.reason` is a TaskAbortedError naming which.
   * A handler that ignores it keeps a slot busy and has its late result thrown away.
   */
  readonly signal: AbortSignal;
  /** When the attempt must be over (ms since the epoch), when the server set one. */
  readonly deadline: number | undefined;
  /** Reports progress, 0–100, with a short message; only the latest pending report is sent. */
  progress(percent: number, message?: string): void;
  /** A logger bound to this task's id, attempt and type. */
  readonly log: Logger;
  /** The worker's clock: wait with `clock.sleep(ms, signal)` so tests can drive time. */
  readonly clock: Clock;
}

/**
 * Runs one attempt. Return bytes, a value to JSON-encode, or nothing. Throw to fail the
 * attempt: a PermanentError is not retried, any other error is (an error's string
 * `code` property, if it has one, is reported as the error code).
 */
export type Handler = (payload: Uint8Array, ctx: TaskContext) => Promise<HandlerOutput> | HandlerOutput;

/** Handlers by task type. */
export type Handlers = Record<string, Handler>;
