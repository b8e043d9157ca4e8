/**
 * A real server whose Postgres and Redis connections go through loopback proxies the test
 * can cut and restore (tests/_support/tcp_proxy.ts), so an outage hits this server only.
 * Its connections are opened the way `server/storage.ts` opens them in production.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type App, startApp } from "../../server/app.ts";
import { systemClock } from "../../server/clock.ts";
import { connectPostgres } from "../../server/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../../server/db/testing.ts";
import type { Deps } from "../../server/deps.ts";
import { loadConfig } from "../../server/load_config.ts";
import { createMemoryLogger } from "../../server/log.ts";
import { connectRedis } from "../../server/redis/connection.ts";
import { createAdmin } from "../../server/auth/first_admin.ts";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.ts";
import { startTcpProxy, type TcpProxy } from "./tcp_proxy.ts";
import { TEST_REDIS_URL } from "./server.ts";
import { Redis } from "ioredis";

export { ServingStatus };

export interface OutageServer {
  app: App;
  url: string;
  deps: Deps;
  db: TestDatabase;
  log: ReturnType<typeof createMemoryLogger>;
  postgres: TcpProxy;
  redis: TcpProxy;
  /** An admin's access token, taken while everything was up. */
  adminToken: string;
  close(): Promise<void>;
}

export async function startOutageServer(env: Record<string, string> = {}): Promise<OutageServer> {
  const db = await createTestDatabase();
  const pgTarget = new URL(db.url);
  const redisTarget = new URL(TEST_REDIS_URL);
  const postgres = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
  const redisProxy = await startTcpProxy({
    host: redisTarget.hostname,
    port: Number(redisTarget.port || 6379),
  });
  const log = createMemoryLogger("info");
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const redisUrl = redisProxy.url(TEST_REDIS_URL);
  const databaseUrl = postgres.url(db.url);
  const sql = connectPostgres(databaseUrl, { log, max: 4 });
  const client = connectRedis(redisUrl, { log, keyPrefix: prefix, name: "taskmesh" });
  const config = loadConfig({
    TASKMESH_HOST: "127.0.0.1",
    TASKMESH_PORT: "0",
    TASKMESH_SHUTDOWN_GRACE_MS: "2000",
    TASKMESH_DEPENDENCY_CHECK_MS: "200",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    TASKMESH_DATA_DIR: await Deno.makeTempDir({ prefix: "taskmesh-outage-" }),
    ...env,
  });
  const deps: Deps = {
    config,
    sql,
    redis: { kind: "redis", client, url: redisUrl },
    clock: systemClock,
    log,
  };
  const app = await startApp(deps);
  const email = `admin-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `outage admin ${crypto.randomUUID()}`;
  await createAdmin({ sql, clock: systemClock }, { email, password });
  const auth = createClient(AuthService, createGrpcTransport({ baseUrl: app.url }));
  const login = await auth.login({ email, password });
  return {
    app,
    url: app.url,
    deps,
    db,
    log,
    postgres,
    redis: redisProxy,
    adminToken: login.tokens!.accessToken,
    async close() {
      await postgres.restore();
      await redisProxy.restore();
      await app.shutdown();
      client.disconnect();
      await sql.end({ timeout: 1 });
      await postgres.close();
      await redisProxy.close();
      await dropKeys(prefix);
      await db.drop();
    },
  };
}

async function dropKeys(prefix: string): Promise<void> {
  const raw = new Redis(TEST_REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await raw.del(...keys);
    } while (cursor !== "0");
  } finally {
    raw.disconnect();
  }
}

/** Resolves once the server reports `status` for `service` (over Health.Watch, no polling). */
export async function waitForHealth(url: string, service: string, status: ServingStatus): Promise<void> {
  const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
  const abort = new AbortController();
  try {
    for await (const res of health.watch({ service }, { signal: abort.signal })) {
      if (res.status === status) return;
    }
    throw new Error(`the health stream of "${service}" ended before it said ${ServingStatus[status]}`);
  } finally {
    abort.abort();
  }
}

/** GETs a plain HTTP route; the status and the body. */
export async function httpGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(new URL(path, url));
  return { status: res.status, body: await res.text() };
}
