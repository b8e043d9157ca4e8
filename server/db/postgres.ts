/**
 * The one way taskmesh opens a Postgres pool, so every caller gets the same
 * notice handling and the same per-schema isolation.
 */
import postgres from "postgres";
import type { Logger } from "../log.ts";

/** A `postgres` pool (or a transaction/reserved connection of one, which share its query API). */
export type Sql = postgres.Sql;

export interface ConnectPostgresOptions {
  /** Every connection's search_path; tests use it to get a private schema per test. */
  schema?: string;
  /** Pool size; the driver's default (10) when unset. */
  max?: number;
  /** Where notices go (at debug level); they are dropped when unset. */
  log?: Logger;
}

export function connectPostgres(url: string, options: ConnectPostgresOptions = {}): Sql {
  const { schema, max, log } = options;
  return postgres(url, {
    ...(max !== undefined ? { max } : {}),
    // The driver prints notices with console.log by default, which would break JSON logs;
    // "relation already exists, skipping" and friends are only interesting when debugging.
    onnotice: (notice) =>
      log?.debug("postgres notice", { severity: notice.severity, message: notice.message }),
    // A startup parameter rather than `set search_path` after connect: it applies to every
    // connection the pool ever opens, including ones reopened after a failure.
    ...(schema !== undefined ? { connection: { search_path: schema } } : {}),
  });
}
