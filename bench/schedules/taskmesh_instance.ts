/**
 * One taskmesh scheduler instance for `deno task bench:schedules`: the task engine and
 * the scheduler loop as `deno task server` runs them (server/runtimes.ts), on the given
 * Postgres schema and Redis key prefix, without the RPC server (the bench creates the
 * schedules itself). Prints `{"msg":"ready"}` once its loops run; SIGTERM stops it.
 *
 * Usage: deno run -A bench/schedules/taskmesh_instance.ts --db-url=URL --redis-url=URL --prefix=P
 */
import { systemClock } from "../../server/clock.ts";
import { connectPostgres } from "../../server/db/postgres.ts";
import { loadConfig } from "../../server/load_config.ts";
import { createMemoryLogger } from "../../server/log.ts";
import { connectRedis } from "../../server/redis/connection.ts";
import { Schedules } from "../../server/schedules/schedules.ts";
import { createTasksRuntime } from "../../server/tasks/setup.ts";
import { flagValue } from "../rpc/_flags.ts";

if (import.meta.main) {
  const dbUrl = flagValue(Deno.args, "db-url")!;
  const redisUrl = flagValue(Deno.args, "redis-url")!;
  const keyPrefix = flagValue(Deno.args, "prefix")!;
  const log = createMemoryLogger("error");
  const sql = connectPostgres(dbUrl, { max: 10 });
  const client = connectRedis(redisUrl, { log, keyPrefix });
  const config = loadConfig({ TASKMESH_HOST: "127.0.0.1", TASKMESH_PORT: "0" });
  const tasks = createTasksRuntime({
    sql,
    redis: { kind: "redis", url: redisUrl, client },
    clock: systemClock,
    log,
    config,
  });
  await tasks.start();
  const schedules = new Schedules(sql, tasks, log, config.tasks.tickMs);
  schedules.start();
  console.log(JSON.stringify({ msg: "ready" }));
  const stop = async () => {
    await schedules.stop();
    await tasks.stop();
    await sql.end();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop());
}
