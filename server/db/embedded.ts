/**
 * Postgres without a Postgres server: PGlite keeps its data in a folder and is served on a
 * loopback port, so the rest of taskmesh uses the same `postgres` driver and SQL as in production.
 */
import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "../log.ts";
import { serveWireProtocol } from "./_pglite_wire.ts";

export interface EmbeddedPostgresOptions {
  /** Where the database files live; created when missing. */
  dataDir: string;
  log?: Logger;
  /** Connections the port accepts at once; a pool's `max` must stay below it. Defaults to 32. */
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  /** A postgres:// URL for `connectPostgres`. */
  url: string;
  /** Closes every connection, then PGlite, so the folder can be opened again. */
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { dataDir, log } = options;
  await Deno.mkdir(dataDir, { recursive: true });
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir });
  } catch (error) {
    throw new Error(
      `embedded database in ${dataDir} could not start: ${(error as Error).message}: ` +
        "check that no other taskmesh process uses this folder, or set DATABASE_URL",
      { cause: error },
    );
  }
  const server = serveWireProtocol({ db, maxConnections: options.maxConnections ?? 32, log });
  const url = `postgres://postgres@127.0.0.1:${server.port}/postgres`;
  log?.info("embedded database started", { dataDir, url });
  let stopped: Promise<void> | null = null;
  return {
    url,
    stop() {
      stopped ??= (async () => {
        await server.close();
        await db.close();
        log?.info("embedded database stopped", { dataDir });
      })();
      return stopped;
    },
  };
}
