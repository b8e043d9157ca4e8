/**
 * The one way taskmesh opens a Postgres pool, so every caller gets the same
 * notice handling and the same per-schema isolation.
 */
import postgres from "postgres";
import type { Logger } from "../log.ts";
import { guardNullSocketWrites } from "./null_socket_guard.ts";

/** A `postgres` pool (or a transaction/reserved connection of one, which share its query API). */
export type Sql = postgres.Sql;

export interface ConnectPostgresOptions {
  /** Every connection's search_path; tests use it to get a private schema per test. */
  schema?: string;
  /** Pool size; the driver's default (10) when unset. */
  max?: number;
  /** Where notices go (at debug level); they are dropped when unset. */
  log?: Logger;
  /** Seconds to wait for a new connection; CONNECT_TIMEOUT_S when unset. */
  connectTimeoutS?: number;
}

/**
 * A new connection that takes longer than this fails (the driver's default is 30 s), so a
 * call made while Postgres is unreachable answers Unavailable instead of hanging.
 */
export const CONNECT_TIMEOUT_S = 5;

export function connectPostgres(url: string, options: ConnectPostgresOptions = {}): Sql {
  const { schema, max, log } = options;
  guardNullSocketWrites(log);
  return postgres(url, {
    ...(max !== undefined ? { max } : {}),
    connect_timeout: options.connectTimeoutS ?? CONNECT_TIMEOUT_S,
    // The driver prints notices with console.log by default, which would break JSON logs;
    // "relation already exists, skipping" and friends are only interesting when debugging.
    onnotice: (notice) =>
      log?.debug("postgres notice", { severity: notice.severity, message: notice.message }),
    // A startup parameter rather than `set search_path` after connect: it applies to every
    // connection the pool ever opens, including ones reopened after a failure.
    ...(schema !== undefined ? { connection: { search_path: schema } } : {}),
  });
}

// Errors of the network or the server's availability, not of the statement: driver codes
// (postgres.js), socket codes (node:net), and SQLSTATEs of classes 08 (connection
// exception), 57P0x (shutdown, crash, starting up) and 53300 (too many connections).
const UNAVAILABLE_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/**
 * True when `error` (or one of its causes) says Postgres could not be reached or went
 * away, rather than that a statement was wrong: the caller should retry shortly.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 5) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}
