/**
 * How much of a handler's error the server keeps with the attempt and the task: the
 * message and the stack trace, each cut at its bound with a visible marker, so a handler
 * that throws a megabyte of text costs a bounded row and still shows where it failed.
 */

/** Characters of an error message kept. */
export const MAX_ERROR_MESSAGE = 4096;
/** Characters of a stack trace kept. */
export const MAX_ERROR_STACK = 16_384;
/** Ends a cut text; the result, marker included, is exactly at the bound. */
export const TRUNCATED = "… (truncated)";

/** `text` when it fits in `max` characters, else its start and the marker, `max` characters in all. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - TRUNCATED.length) + TRUNCATED;
}

/** The message and stack as stored: each within its bound (an empty stack is left out). */
export function boundedError(e: { message: string; stack?: string }): { message: string; stack?: string } {
  const stack = e.stack ? truncate(e.stack, MAX_ERROR_STACK) : undefined;
  return { message: truncate(e.message, MAX_ERROR_MESSAGE), ...(stack ? { stack } : {}) };
}
