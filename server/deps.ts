/**
 * What a service needs from the process, passed in rather than imported as globals.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import type { Sql } from "./db/postgres.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { RedisMode } from "./redis/connection.ts";
import type { Config } from "./load_config.ts";
import type { Runtimes } from "./runtimes.ts";

export interface Deps {
  config: Config;
  sql: Sql;
  redis: RedisMode;
  clock: Clock;
  log: Logger;
}

/** A service module registers its implementation on the router, with the process's runtimes. */
export type RouteFn = (router: ConnectRouter, deps: Deps, runtimes: Runtimes) => void;
