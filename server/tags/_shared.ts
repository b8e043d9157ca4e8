/**
 * What every tag handler needs: its dependencies, who is acting, the audit row, and one
 * way to run a transaction that turns database errors into the right Connect codes.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import postgres from "postgres";
import { callerLabel, callerOf } from "../auth/caller.ts";
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import { requestIdKey } from "../request_context.ts";
import { type Db, insertAuditEntry } from "./queries.ts";
import type { SuggestionBus } from "./suggestion_feed.ts";

export interface TagHandlerDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  bus: SuggestionBus;
  /** How many events a WatchSuggestions stream may hold for a slow client before it is dropped. */
  watchBuffer: number;
}

export interface Actor {
  /** Stored in created_by / updated_by / decided_by: a user id, or `key:<id>` for an API key. */
  id: string;
  /** Written to audit_log.actor. */
  label: string;
}

export function actorOf(ctx: HandlerContext): Actor {
  const caller = callerOf(ctx);
  const label = callerLabel(caller);
  return { id: caller.kind === "user" ? caller.userId : label, label };
}

export function nowOf(clock: Clock): Date {
  return new Date(clock.now());
}

/** Appends the audit row for a change, in the change's own transaction. */
export async function audit(
  tx: Db,
  ctx: HandlerContext,
  clock: Clock,
  action: string,
  target: string,
  details: Record<string, unknown>,
): Promise<void> {
  await insertAuditEntry(tx, {
    actor: callerLabel(callerOf(ctx)),
    action,
    target,
    details,
    requestId: ctx.values.get(requestIdKey) || null,
    time: nowOf(clock),
  });
}

export function notFound(message: string): ConnectError {
  return new ConnectError(message, Code.NotFound);
}

export function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

export function alreadyExists(message: string): ConnectError {
  return new ConnectError(message, Code.AlreadyExists);
}

/**
 * The Connect error for anything a handler throws: ConnectErrors pass through; the
 * database errors a race can still cause (the checks run first under the tree lock, the
 * constraints are the backstop) get their codes; anything else becomes Internal with the
 * original kept as the cause for the logs, never in the message.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof postgres.PostgresError) {
    switch (error.code) {
      case "23505":
        return alreadyExists(
          "that name or slug was taken by a concurrent change: reload and pick another name",
        );
      case "23503":
        return notFound("a tag this change refers to was deleted meanwhile: reload and try again");
      case "40001":
      case "40P01":
        return new ConnectError("the change collided with a concurrent one: try again", Code.Aborted);
    }
  }
  return new ConnectError(
    "internal error in the tag service: try again later",
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

/** Runs `fn` in a transaction; errors come out as ConnectErrors. */
export async function inTransaction<T>(sql: Sql, fn: (tx: Db) => Promise<T>): Promise<T> {
  try {
    return await sql.begin((tx) => fn(tx)) as T;
  } catch (error) {
    throw toConnectError(error);
  }
}

/** Runs a read outside a transaction; errors come out as ConnectErrors. */
export async function reading<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toConnectError(error);
  }
}
