/**
 * The errors a handler throws or sees. A thrown error fails the attempt and is
 * retried (up to the task's max attempts) unless it is a PermanentError: retrying a
 * malformed payload or a 5xx from SMTP only burns attempts.
 */

/** Thrown by a handler when a retry cannot succeed; the task goes straight to dead. */
export class PermanentError extends Error {
  /** Machine-readable code reported in the Result, e.g. "smtp_550". */
  readonly code: string;

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "PermanentError";
    this.code = options.code ?? "permanent";
  }
}

/** Why a running handler's signal was aborted. */
export type AbortReason =
  /** An operator cancelled the task. */
  | "cancelled"
  /** The lease is gone (expired, or the stream died): another worker may run the task. */
  | "lease_lost"
  /** The attempt ran past its deadline. */
  | "timeout"
  /** The worker is stopping (stop(), or a drain that ran out of time). */
  | "shutdown";

/** The `reason` of a handler's aborted signal. */
export class TaskAbortedError extends Error {
  constructor(readonly reason: AbortReason, message: string) {
    super(message);
    this.name = "AbortError";
  }
}
