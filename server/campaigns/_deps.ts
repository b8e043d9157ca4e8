/** What the campaign handlers share. */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import type { CampaignRunner } from "./runner.ts";
import type { UnsubscribeSigner } from "./unsubscribe_token.ts";

export interface HandlerDeps {
  sql: Sql;
  clock: Clock;
  log: Logger;
  runner: CampaignRunner;
  signer: UnsubscribeSigner;
  /** Milliseconds between two looks of a WatchCampaign stream. */
  watchIntervalMs: number;
}
