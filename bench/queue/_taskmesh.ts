/**
 * taskmesh under test: the real server process (`server/main.ts`) on a database made for
 * the run and dropped after it, a Redis database index of its own, and the real worker
 * process (`worker/main.ts`) with its built-in `noop` and `sleep` handlers.
 */
import { v8FlagArgs } from "../_launch_flags.ts";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService, WorkerState } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { createAdmin } from "../../server/auth/first_admin.ts";
import { systemClock } from "../../server/clock.ts";
import { connectPostgres, type Sql } from "../../server/db/postgres.ts";
import { DEFAULT_PREFIX, rebuiltKey } from "../../server/redis/keys.ts";
import {
  freePort,
  type ServerProcess,
  startServer,
  stopServer,
  waitUntilServing,
} from "../rpc/_server_process.ts";
import { type Child, spawnChild, stopChild } from "./_child.ts";
import { inFlight, poll, pollUntil, type QueueSystem, type Window, type WorkerSpec } from "./_system.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const EMPTY_JSON = new TextEncoder().encode("{}");

export interface TaskmeshOptions {
  /** The server maintenance database: the bench's own database is created and dropped through it. */
  adminDatabaseUrl: string;
  /** A Redis URL naming a database index nobody else uses (it is flushed between phases). */
  redisUrl: string;
  tmp: string;
  logLevel: string;
  /** When set, the server runs under `--cpu-prof` and writes its profile here on exit. */
  cpuProfDir?: string;
  /** The same for every worker process. */
  workerCpuProfDir?: string;
  /** V8's own heap settings instead of the launch flags of deno.json's server and worker tasks. */
  v8Defaults?: boolean;
  /**
   * The protocol of the bench's enqueue client (default grpc). Both go over one HTTP/2
   * connection in binary; the server answers both on its one port. Workers use gRPC.
   */
  clientProtocol?: "grpc" | "connect";
}

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/** A database `<prefix>_<random>` made through the maintenance database; its URL. */
export async function createDatabase(adminUrl: string, prefix = "taskmesh_bench"): Promise<string> {
  const name = `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
  const admin = connectPostgres(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = connectPostgres(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

export async function startTaskmesh(
  options: TaskmeshOptions,
): Promise<QueueSystem & { databaseUrl: string }> {
  const databaseUrl = await createDatabase(options.adminDatabaseUrl);
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const profile = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  let server: ServerProcess | undefined;
  let sql: Sql | undefined;
  let redis: Redis | undefined;
  try {
    server = await startServer({
      name: "taskmesh server",
      port,
      // Launched as deployed: with the V8 flags of deno.json's server task.
      command: [
        "deno",
        "run",
        "-A",
        ...v8FlagArgs("server", [], options.v8Defaults),
        ...profile,
        `${ROOT}server/main.ts`,
      ],
      env: {
        DATABASE_URL: databaseUrl,
        REDIS_URL: options.redisUrl,
        TASKMESH_HOST: "127.0.0.1",
        TASKMESH_PORT: String(port),
        TASKMESH_LOG_LEVEL: options.logLevel,
        TASKMESH_DATA_DIR: `${options.tmp}/taskmesh-data`,
      },
      logFile: `${options.tmp}/taskmesh-server.log`,
    });
    await waitUntilServing(server, createGrpcTransport({ baseUrl: url }));
    sql = connectPostgres(databaseUrl, { max: 2 });
    redis = new Redis(options.redisUrl, { lazyConnect: true });
    await redis.connect();
    const keys = await credentials(sql, url);
    return taskmeshSystem({ ...options, url, databaseUrl, server, sql, redis, ...keys });
  } catch (error) {
    await sql?.end();
    redis?.disconnect();
    if (server) await stopServer(server);
    await dropDatabase(options.adminDatabaseUrl, databaseUrl);
    throw error;
  }
}

/** A worker-scope key for the worker processes and a client key as a backend service would hold. */
async function credentials(sql: Sql, url: string): Promise<{ workerKey: string; clientKey: string }> {
  const email = `bench-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  await createAdmin({ sql, clock: systemClock }, { email, password });
  const auth = createClient(AuthService, createGrpcTransport({ baseUrl: url }));
  const admin = (await auth.login({ email, password })).tokens!.accessToken;
  const headers = { authorization: `Bearer ${admin}` };
  const worker = await auth.createApiKey({ name: "bench worker", scopes: ["worker"] }, { headers });
  const client = await auth.createApiKey(
    { name: "bench client", scopes: ["tasks:enqueue", "tasks:read"] },
    { headers },
  );
  return { workerKey: worker.secret, clientKey: client.secret };
}

interface Running extends TaskmeshOptions {
  url: string;
  databaseUrl: string;
  server: ServerProcess;
  sql: Sql;
  redis: Redis;
  workerKey: string;
  clientKey: string;
}

function taskmeshSystem(r: Running): QueueSystem & { databaseUrl: string } {
  const transport = createGrpcTransport({ baseUrl: r.url, interceptors: [bearer(r.clientKey)] });
  const enqueueTransport = r.clientProtocol === "connect"
    ? createConnectTransport({
      baseUrl: r.url,
      httpVersion: "2",
      useBinaryFormat: true,
      interceptors: [bearer(r.clientKey)],
    })
    : transport;
  const tasks = createClient(TaskService, enqueueTransport);
  const workers = createClient(WorkerService, transport);
  const spec = (queue: string, type = "noop", payload: Uint8Array = EMPTY_JSON) => ({ queue, type, payload });
  const serverAlive = () => {
    if (r.server.exitCode !== undefined) {
      throw new Error(`the taskmesh server exited with code ${r.server.exitCode}`);
    }
  };

  return {
    name: "taskmesh",
    serverPid: r.server.child.pid,
    note: "",
    skips: {},
    databaseUrl: r.databaseUrl,
    async reset() {
      serverAlive();
      // Workers of the last phase were killed: wait until the server has given their leases back.
      await poll(
        async () => (await workers.listWorkers({})).workers.length === 0,
        15_000,
        "workers to leave",
      );
      // The bench's own database: finished tasks of earlier phases go, as BullMQ's go with FLUSHDB.
      await r.sql`truncate tasks cascade`;
      await r.redis.flushdb();
      // The server notices the flush on its next tick and rebuilds from Postgres (now empty).
      await poll(async () => (await r.redis.exists(rebuiltKey(DEFAULT_PREFIX))) === 1, 15_000, "the rebuild");
    },
    enqueueSingle(queue, n, concurrency, stopAt) {
      return inFlight(n, concurrency, stopAt, () => tasks.enqueue({ task: spec(queue) }));
    },
    enqueueBatched(queue, n, batch, stopAt) {
      const size = (i: number) => Math.min(batch, n - i * batch);
      return inFlight(
        Math.ceil(n / batch),
        1,
        stopAt,
        (i) =>
          tasks.enqueueBatch({ tasks: Array.from({ length: size(i) }, () => spec(queue)), idsOnly: true }),
        size,
      );
    },
    async enqueueOne(queue, type, payload) {
      const body = new TextEncoder().encode(JSON.stringify(payload));
      return (await tasks.enqueue({ task: spec(queue, type, body) })).task!.id;
    },
    async startWorker(w: WorkerSpec): Promise<Child> {
      const profile = r.workerCpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${r.workerCpuProfDir}`] : [];
      const child = spawnChild(`taskmesh worker ${w.id}`, [
        "deno",
        "run",
        "-A",
        ...v8FlagArgs("worker", [], r.v8Defaults),
        ...profile,
        `${ROOT}worker/main.ts`,
        `--url=${r.url}`,
        `--queues=${w.queue}`,
        `--concurrency=${w.concurrency}`,
        `--worker-id=${w.id}`,
        `--log-level=${w.logStarts ? "debug" : "warn"}`,
      ], { TASKMESH_API_KEY: r.workerKey });
      try {
        await poll(
          async () => {
            if (child.exitCode !== undefined) throw new Error(`exited with code ${child.exitCode}`);
            const { workers: list } = await workers.listWorkers({ queue: w.queue });
            return list.some((x) => x.id === w.id && x.state === WorkerState.ACTIVE);
          },
          60_000,
          `worker ${w.id} to connect`,
          100,
        );
      } catch (error) {
        await stopChild(child, 1000);
        throw new Error(`${(error as Error).message}; its output ends:\n${child.tail()}`);
      }
      return child;
    },
    async waitSucceeded(queue, n, stopAt) {
      await pollUntil(
        async () => {
          serverAlive();
          const [row] = await r.sql<{ ok: number; bad: number }[]>`
          select count(*) filter (where state = 'succeeded')::int as ok,
            count(*) filter (where state in ('dead', 'cancelled', 'failed', 'scheduled'))::int as bad
          from tasks where queue = ${queue}`;
          if (row.bad > 0) throw new Error(`${row.bad} tasks of ${queue} failed or were retried`);
          return row.ok >= n;
        },
        stopAt,
      );
    },
    async window(queue): Promise<Window> {
      const [row] = await r.sql<{ count: number; first: Date; last: Date }[]>`
        select count(*)::int as count, min(started_at) as first, max(ended_at) as last
        from task_attempts where queue = ${queue} and outcome = 'succeeded'`;
      return { count: row.count, firstStartMs: row.first.getTime(), lastFinishMs: row.last.getTime() };
    },
    async recordedStarts(queue, ids) {
      const rows = await r.sql<{ task_id: string; started_at: Date }[]>`
        select distinct on (task_id) task_id, started_at from task_attempts
        where queue = ${queue} and task_id = any(${ids}::uuid[]) order by task_id, number desc`;
      return new Map(rows.map((row) => [row.task_id, row.started_at.getTime()]));
    },
    async close() {
      await r.sql.end();
      await stopServer(r.server, 15_000);
      // After the server: what it wrote while stopping goes too.
      await r.redis.flushdb();
      r.redis.disconnect();
      await dropDatabase(r.adminDatabaseUrl, r.databaseUrl);
    },
  };
}
