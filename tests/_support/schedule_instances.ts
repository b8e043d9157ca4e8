/**
 * Server instances as the scheduler sees them: each its own Postgres pool, Redis
 * connection, task engine and scheduler loop, on one database and one Redis key prefix
 * (one deployment), sharing a manual clock. `kill` ends an instance as a crash does: its
 * connections drop at once, so Postgres rolls back whatever transaction it had open.
 */
import type { ManualClock } from "../../server/clock.ts";
import { connectPostgres } from "../../server/db/postgres.ts";
import type { TestDatabase } from "../../server/db/testing.ts";
import { loadConfig } from "../../server/load_config.ts";
import { createMemoryLogger } from "../../server/log.ts";
import { connectRedis } from "../../server/redis/connection.ts";
import { Schedules } from "../../server/schedules/schedules.ts";
import { createTasksRuntime } from "../../server/tasks/setup.ts";
import { TEST_REDIS_URL } from "./server.ts";

export interface SchedulerInstance {
  schedules: Schedules;
  /** Stops cleanly, as a shutdown does. */
  stop(): Promise<void>;
  /** Drops its connections first, as a crash does, then reaps what is left of it. */
  kill(): Promise<void>;
}

export async function startSchedulerInstance(
  db: TestDatabase,
  redisPrefix: string,
  clock: ManualClock,
  pollMs = 250,
): Promise<SchedulerInstance> {
  const log = createMemoryLogger("error");
  const sql = connectPostgres(db.url, { max: 4 });
  const client = connectRedis(TEST_REDIS_URL, { log, keyPrefix: redisPrefix });
  const config = loadConfig({ TASKMESH_HOST: "127.0.0.1", TASKMESH_PORT: "0" });
  const tasks = createTasksRuntime({
    sql,
    redis: { kind: "redis", url: TEST_REDIS_URL, client },
    clock,
    log,
    config,
  });
  await tasks.start();
  const schedules = new Schedules(sql, tasks, log, pollMs);
  schedules.start();
  let stopped = false;
  return {
    schedules,
    async stop() {
      if (stopped) return;
      stopped = true;
      await schedules.stop();
      await tasks.stop();
      await sql.end();
    },
    async kill() {
      if (stopped) return;
      stopped = true;
      await sql.end({ timeout: 0 });
      client.disconnect();
      // Its loops find their connections gone; they are stopped so the test process can end.
      await schedules.stop().catch(() => {});
      await tasks.stop().catch(() => {});
    },
  };
}
