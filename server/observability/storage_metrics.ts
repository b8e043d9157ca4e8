/**
 * Latency of the stores every RPC leans on: each Redis command of the main connection
 * is timed (one clock read and one histogram step when its reply comes), and the
 * Postgres pool is measured at scrape time with one `select 1` through it, which waits
 * for a free connection like any query would.
 */
import type { Redis } from "ioredis";
import type { Sql } from "../db/postgres.ts";
import type { MetricsRegistry } from "./metrics.ts";

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

type SendCommand = Redis["sendCommand"];
type Command = Parameters<SendCommand>[0];

/** Times every command sent on `redis` (command names are a fixed set: `get`, `evalsha`...). */
export function observeRedis(registry: MetricsRegistry, redis: Redis, now = () => performance.now()): void {
  const seconds = registry.histogram(
    "taskmesh_redis_command_duration_seconds",
    "Redis command latency in seconds, from sending to the reply, by command.",
    BUCKETS,
  );
  const errors = registry.counter(
    "taskmesh_redis_command_errors_total",
    "Redis commands that failed (an error reply, a timeout, a lost connection), by command.",
  );
  const send: SendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = (command: Command, stream?: Parameters<SendCommand>[1]) => {
    const started = now();
    const name = { command: command.name.toLowerCase() };
    command.promise.then(
      () => seconds.observe((now() - started) / 1000, name),
      () => errors.inc(name),
    );
    return send(command, stream);
  };
}

/** The pool's size, and how long one `select 1` through it takes at scrape time. */
export function observePostgres(registry: MetricsRegistry, sql: Sql, now = () => performance.now()): void {
  const max = registry.gauge(
    "taskmesh_postgres_pool_max_connections",
    "Connections this instance's Postgres pool may open.",
  );
  const ping = registry.gauge(
    "taskmesh_postgres_pool_query_seconds",
    "Seconds one `select 1` through the pool took at scrape time: waiting for a connection plus a round trip.",
  );
  registry.collect("postgres", async () => {
    max.set(sql.options.max);
    ping.clear();
    const started = now();
    await sql`select 1`;
    ping.set((now() - started) / 1000);
  });
}
