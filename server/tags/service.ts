/**
 * The TagService: the typed tag hierarchy, aliases, member suggestions and subscriptions.
 * Who may call each method is the authorization table's business; the handlers use the
 * caller only to record who did what.
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { RouteFn } from "../deps.ts";
import type { Logger } from "../log.ts";
import { suggestionFromRow } from "./_convert.ts";
import { tagReadHandlers } from "./_read_handlers.ts";
import { suggestionHandlers } from "./_suggestion_handlers.ts";
import { subscriptionHandlers } from "./_subscription_handlers.ts";
import { tagAdminHandlers } from "./_tag_handlers.ts";
import { selectSuggestion } from "./suggestion_queries.ts";
import { createSuggestionBus, type SuggestionBus } from "./suggestion_feed.ts";

/** What the tag service needs from the process; a subset of Deps so tests need not build the rest. */
export interface TagServiceDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
}

export interface TagServiceOptions {
  /** The live suggestion feed; by default LISTEN/NOTIFY, or in-process on the embedded PGlite. */
  bus?: SuggestionBus;
  /** Events a WatchSuggestions stream may hold for a slow client before it is cut off (default 1000). */
  watchBuffer?: number;
}

export const DEFAULT_WATCH_BUFFER = 1000;

/** The default feed for `sql`: it re-reads an event's suggestion when it was too large to travel inline. */
export function defaultSuggestionBus(deps: TagServiceDeps): SuggestionBus {
  return createSuggestionBus(deps.sql, {
    log: deps.log,
    load: async (id) => {
      const row = await selectSuggestion(deps.sql, id);
      return row && suggestionFromRow(row);
    },
  });
}

export function createTagServiceImpl(
  deps: TagServiceDeps,
  options: TagServiceOptions = {},
): ServiceImpl<typeof TagService> {
  const handlerDeps = {
    sql: deps.sql,
    clock: deps.clock,
    log: deps.log.child({ service: "tags" }),
    bus: options.bus ?? defaultSuggestionBus(deps),
    watchBuffer: options.watchBuffer ?? DEFAULT_WATCH_BUFFER,
  };
  return {
    ...tagAdminHandlers(handlerDeps),
    ...tagReadHandlers(handlerDeps),
    ...suggestionHandlers(handlerDeps),
    ...subscriptionHandlers(handlerDeps),
  };
}

/** Registers the tag service with explicit dependencies; tests and the embedded mode use it. */
export function registerTagServiceWith(
  router: ConnectRouter,
  deps: TagServiceDeps,
  options: TagServiceOptions = {},
): ConnectRouter {
  return router.service(TagService, createTagServiceImpl(deps, options));
}

export const registerTagService: RouteFn = (router, deps) => {
  registerTagServiceWith(router, deps);
};
