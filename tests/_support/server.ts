/**
 * A real server on a real port for cross-component tests: its own Postgres schema,
 * its own Redis key prefix (or embedded mode), a memory logger to assert on, and
 * clients for each protocol.
 */
import type { ConnectRouter, Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { type App, startApp } from "../../server/app.ts";
import { type Clock, systemClock } from "../../server/clock.ts";
import { createTestDatabase, type TestDatabase } from "../../server/db/testing.ts";
import type { Deps } from "../../server/deps.ts";
import { loadConfig } from "../../server/load_config.ts";
import { createMemoryLogger } from "../../server/log.ts";
import { Redis } from "ioredis";
import { connectRedis, type RedisMode } from "../../server/redis/connection.ts";

export const TEST_REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Use the real Redis at TEST_REDIS_URL under a private key prefix (default: embedded mode). */
  redis?: boolean;
  clock?: Clock;
  interceptors?: Interceptor[];
  /** Authentication and the authorization table (default true). */
  authenticate?: boolean;
  extraRoutes?: (router: ConnectRouter) => void;
  /**
   * Another instance of the same deployment: this server uses that one's database and, with
   * `redis`, its Redis key prefix, as a second server behind a load balancer would.
   */
  peerOf?: TestServer;
}

export interface TestServer {
  app: App;
  /** The key prefix of its Redis connection, when it has one. */
  redisPrefix?: string;
  url: string;
  db: TestDatabase;
  deps: Deps;
  log: ReturnType<typeof createMemoryLogger>;
  /** gRPC over h2c with prior knowledge. */
  grpc(): Transport;
  /** gRPC-Web over HTTP/1.1 (what browsers send to a plain-text port). */
  grpcWeb(): Transport;
  /** Connect over HTTP/1.1. */
  connect(): Transport;
  /** Connect over h2c. */
  connectH2(): Transport;
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const peer = options.peerOf;
  const db = peer?.db ?? await createTestDatabase();
  // The database belongs to the first instance: only it drops it.
  const dropDb = () => peer ? Promise.resolve() : db.drop();
  const log = createMemoryLogger("info");
  let redis: RedisMode = { kind: "embedded" };
  const prefix = peer?.redisPrefix ?? `test:${crypto.randomUUID().slice(0, 8)}:`;
  if (options.redis) {
    redis = {
      kind: "redis",
      url: TEST_REDIS_URL,
      client: connectRedis(TEST_REDIS_URL, { log, keyPrefix: prefix }),
    };
  }
  const config = loadConfig({
    TASKMESH_HOST: "127.0.0.1",
    TASKMESH_PORT: "0",
    TASKMESH_SHUTDOWN_GRACE_MS: "5000",
    TASKMESH_DATA_DIR: await Deno.makeTempDir({ prefix: "taskmesh-test-" }),
    ...options.env,
  });
  const deps: Deps = { config, sql: db.sql, redis, clock: options.clock ?? systemClock, log };
  let app: App;
  try {
    app = await startApp(deps, {
      interceptors: options.interceptors,
      extraRoutes: options.extraRoutes,
      authenticate: options.authenticate,
    });
  } catch (error) {
    await dropDb();
    throw error;
  }
  const url = app.url;
  const sessions: Transport[] = [];
  const keep = (t: Transport) => (sessions.push(t), t);
  return {
    app,
    ...(options.redis ? { redisPrefix: prefix } : {}),
    url,
    db,
    deps,
    log,
    grpc: () => keep(createGrpcTransport({ baseUrl: url })),
    grpcWeb: () => keep(createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })),
    connect: () => keep(createConnectTransport({ baseUrl: url, httpVersion: "1.1" })),
    connectH2: () => keep(createConnectTransport({ baseUrl: url, httpVersion: "2" })),
    async close() {
      await app.shutdown();
      if (redis.kind === "redis") {
        redis.client.disconnect();
        // Like the database, the keys belong to the first instance.
        if (!peer) await dropRedisKeys(prefix);
      }
      await dropDb();
    },
  };
}

/** Deletes every key under the prefix, on a connection of its own (the server's adds the prefix itself). */
export async function dropRedisKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const raw = new Redis(url);
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
