/**
 * A guard for a known defect of the `postgres` driver (3.4.9): a small write is queued with
 * setImmediate, and when the connection closes before it runs, the queued `nextWrite` calls
 * `socket.write` on the null socket it left behind. The TypeError is thrown from the
 * immediate, outside any query's promise, so it would end the whole process — it did in
 * tests/outage_postgres_test.ts when the proxy to Postgres was cut mid-write
 * (porsager/postgres#1154, #1208; denoland/deno#34667).
 *
 * It is harmless to drop: by the time the socket is null the driver has already rejected
 * the connection's queries with CONNECTION_CLOSED, which our callers map to Unavailable and
 * a pooled connection is replaced. So this swallows exactly that error (its message, raised
 * in a function named nextWrite inside the driver's connection.js) and counts it; every
 * other uncaught error still ends the process.
 */
import type { Logger } from "../log.ts";

let installed = false;
let dropped = 0;
let logger: Logger | undefined;

/** Whether an uncaught error is the driver's write to a closed connection's null socket. */
export function isNullSocketWrite(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  if (!/^Cannot read properties of null \(reading 'write'\)$/.test(error.message)) return false;
  const stack = error.stack ?? "";
  return /\bnextWrite\b/.test(stack) && /postgres[/\\]src[/\\]connection\.js/.test(stack);
}

/** Installs the guard once per process; later calls only give it a logger if it has none. */
export function guardNullSocketWrites(log?: Logger): void {
  logger ??= log;
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event) => {
    if (!isNullSocketWrite(event.error)) return;
    event.preventDefault();
    dropped++;
    logger?.warn(
      "postgres: a write queued for a closed connection was dropped (its queries already failed)",
      {
        dropped,
      },
    );
  });
}

/** How many such writes this process dropped. */
export function droppedNullSocketWrites(): number {
  return dropped;
}
