/**
 * Opens what the process stores things in, in the mode the configuration asks for:
 * Postgres at DATABASE_URL or an embedded PGlite served over a local socket (so the
 * same driver and SQL run), and Redis at REDIS_URL or embedded (in-memory) mode.
 */
import { join } from "node:path";
import type { ServerConfig } from "./config.ts";
import { redact } from "./config.ts";
import {
  type EmbeddedHolder,
  EmbeddedInUseError,
  ensurePrivateDir,
  openEmbeddedPostgres,
  startEmbeddedPostgres,
} from "./db/embedded.ts";
import { migrate } from "./db/migrate.ts";
import { connectPostgres, type Sql } from "./db/postgres.ts";
import type { Logger } from "./log.ts";
import { checkRedisUrl, openRedisMode, type RedisMode } from "./redis/connection.ts";

/** A store the configuration names cannot be used; the message is one line for the operator. */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

export interface Storage {
  sql: Sql;
  redis: RedisMode;
  /** Human lines for the start banner: which mode runs and where data lives. */
  describe: string[];
  /** Set when the embedded database is another process's (a maintenance command beside a running server). */
  sharedWith?: EmbeddedHolder;
  close(): Promise<void>;
}

export interface OpenStorageOptions {
  /**
   * A maintenance command: when a running server holds the embedded database, connect
   * through it rather than refuse. (A server refuses: two servers on one folder would lose writes.)
   */
  shareEmbedded?: boolean;
  /** What this process is, as the embedded database's holder file names it. */
  holder?: string;
  /** False for commands that only touch Postgres: Redis is then neither checked nor opened. */
  redis?: boolean;
}

export async function openStorage(
  config: ServerConfig,
  log: Logger,
  options: OpenStorageOptions = {},
): Promise<Storage> {
  const closers: Array<() => Promise<void>> = [];
  const describe: string[] = [];
  let sharedWith: EmbeddedHolder | undefined;
  try {
    // Checked first: a wrong REDIS_URL stops the start before anything is opened or migrated.
    const redisUrl = options.redis === false ? undefined : config.redisUrl;
    if (redisUrl) {
      const problem = await checkRedisUrl(redisUrl);
      if (problem) {
        throw new StartupError(
          `REDIS_URL (${redact(redisUrl)}) cannot be used: ${sentence(problem)}: ` +
            "check the host, port and password and that Redis runs, or unset REDIS_URL for the in-memory broker",
        );
      }
    }
    let url = config.databaseUrl;
    if (url) {
      describe.push(`postgres  ${redact(url)}`);
    } else {
      // Signing keys, reset links and the database's own password live under it: this user only.
      await ensurePrivateDir(config.dataDir, log);
      const dataDir = join(config.dataDir, "pg");
      const embeddedOptions = {
        dataDir,
        log: log.child({ component: "pglite" }),
        holder: options.holder ?? "taskmesh server",
      };
      let embedded;
      try {
        embedded = options.shareEmbedded
          ? await openEmbeddedPostgres(embeddedOptions)
          : await startEmbeddedPostgres(embeddedOptions);
      } catch (error) {
        if (error instanceof EmbeddedInUseError) throw new StartupError(error.message, { cause: error });
        throw error;
      }
      closers.push(() => embedded.stop());
      url = embedded.url;
      sharedWith = embedded.sharedWith;
      describe.push(
        sharedWith
          ? `postgres  EMBEDDED (PGlite) in ${dataDir}, through the running taskmesh (pid ${sharedWith.pid})`
          : `postgres  EMBEDDED (PGlite) with data in ${dataDir} — set DATABASE_URL for a real server`,
      );
    }
    const sql = connectPostgres(url, { log });
    closers.push(() => sql.end({ timeout: 5 }));
    if (config.databaseUrl) {
      try {
        await sql`select 1`;
      } catch (error) {
        throw new StartupError(
          `DATABASE_URL (${redact(config.databaseUrl)}) cannot be used: ${
            sentence((error as Error).message)
          }: ` +
            "check the host, port, credentials and that Postgres runs, or unset DATABASE_URL for the embedded database",
          { cause: error },
        );
      }
    }
    const { applied } = await migrate(sql, { log });
    if (applied.length > 0) log.info("migrations applied", { applied });

    const redis = openRedisMode(redisUrl, log.child({ component: "redis" }));
    if (redis.kind === "redis") {
      closers.push(async () => void (await redis.client.quit().catch(() => redis.client.disconnect())));
      describe.push(`redis     ${redact(redis.url)}`);
    } else {
      describe.push(
        "redis     EMBEDDED (in-memory broker, single process) — set REDIS_URL for a real server",
      );
    }
    return {
      sql,
      redis,
      describe,
      ...(sharedWith ? { sharedWith } : {}),
      async close() {
        for (const close of closers.reverse()) {
          await close().catch((error) => log.warn("close failed", { error }));
        }
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => {});
    throw error;
  }
}

/** A driver's message as a clause: "Connection is closed." reads better without its full stop mid-sentence. */
function sentence(message: string): string {
  return message.replace(/\.$/, "");
}
