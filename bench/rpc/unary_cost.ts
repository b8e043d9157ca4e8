/**
 * CPU time per unary call, server and client apart: the figure a shared two-core machine
 * can still measure (wall-clock rates move with everyone else's load; CPU seconds per call
 * barely do). Runs the real server (`server/main.ts`) on a database made for the run and a
 * Redis database index of its own, with a client as a backend service would hold it (one
 * HTTP/2 connection, binary, an API key), and reads each process's CPU time from /proc
 * around each phase.
 *
 * Phases: Health/Check (no auth, no handler work: the RPC stack alone) and TaskService/
 * Enqueue (auth by API key, request shape, group commit, broker copy), each over gRPC and
 * over the Connect protocol.
 *
 * Usage: deno run -A bench/rpc/unary_cost.ts [--calls=5000] [--concurrency=50] [--warmup=2000]
 *   [--phases=health-grpc,health-connect,enqueue-grpc,enqueue-connect] [--log-level=warn]
 *   [--server-cpu-prof=DIR] [--server-log=FILE] [--root=DIR] (the checkout whose server/main.ts runs; this one by default)
 * Env: BENCH_ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 *   BENCH_TASKMESH_REDIS_URL (default redis://127.0.0.1:6379/13; flushed at the end).
 */
import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { createAdmin } from "../../server/auth/first_admin.ts";
import { systemClock } from "../../server/clock.ts";
import { connectPostgres } from "../../server/db/postgres.ts";
import { createDatabase, dropDatabase } from "../queue/_taskmesh.ts";
import { inFlight } from "../queue/_system.ts";
import { flagValue } from "./_flags.ts";
import { freePort, startServer, stopServer, waitUntilServing } from "./_server_process.ts";

const HERE = new URL("../../", import.meta.url).pathname;
const PHASES = ["health-grpc", "health-connect", "enqueue-grpc", "enqueue-connect"] as const;
type Phase = (typeof PHASES)[number];

function intFlag(name: string, fallback: number): number {
  const value = Number(flagValue(Deno.args, name) ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

/** User plus system CPU time of a process so far, in milliseconds (Linux /proc). */
async function cpuMs(pid: number | "self"): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks * 10; // USER_HZ is 100 on Linux
}

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

async function main() {
  const calls = intFlag("calls", 5000);
  const concurrency = intFlag("concurrency", 50);
  const warmup = intFlag("warmup", 2000);
  const phases = (flagValue(Deno.args, "phases") ?? PHASES.join(",")).split(",") as Phase[];
  const unknown = phases.filter((p) => !PHASES.includes(p));
  if (unknown.length) throw new Error(`--phases: unknown ${unknown.join(", ")}; known: ${PHASES.join(", ")}`);
  const root = flagValue(Deno.args, "root") ?? HERE;
  const profileDir = flagValue(Deno.args, "server-cpu-prof");
  const adminUrl = Deno.env.get("BENCH_ADMIN_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = Deno.env.get("BENCH_TASKMESH_REDIS_URL") ?? "redis://127.0.0.1:6379/13";

  const databaseUrl = await createDatabase(adminUrl, "taskmesh_unary");
  const tmp = await Deno.makeTempDir({ prefix: "bench-unary-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServer({
    name: "taskmesh server",
    port,
    command: [
      "deno",
      "run",
      "-A",
      ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
      `${root}/server/main.ts`,
    ],
    env: {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      TASKMESH_HOST: "127.0.0.1",
      TASKMESH_PORT: String(port),
      TASKMESH_LOG_LEVEL: flagValue(Deno.args, "log-level") ?? "warn",
      TASKMESH_DATA_DIR: `${tmp}/data`,
    },
    logFile: flagValue(Deno.args, "server-log") ?? `${tmp}/server.log`,
  });
  const sql = connectPostgres(databaseUrl, { max: 1 });
  try {
    await waitUntilServing(server, createGrpcTransport({ baseUrl: url }));
    const email = `unary-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = "correct horse battery staple";
    await createAdmin({ sql, clock: systemClock }, { email, password });
    const auth = createClient(AuthService, createGrpcTransport({ baseUrl: url }));
    const admin = (await auth.login({ email, password })).tokens!.accessToken;
    const key = (await auth.createApiKey(
      { name: "unary cost", scopes: ["tasks:enqueue"] },
      { headers: { authorization: `Bearer ${admin}` } },
    )).secret;

    const transports: Record<"grpc" | "connect", Transport> = {
      grpc: createGrpcTransport({ baseUrl: url, interceptors: [bearer(key)] }),
      connect: createConnectTransport({
        baseUrl: url,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors: [bearer(key)],
      }),
    };
    const payload = new TextEncoder().encode("{}");
    console.log(
      `${calls} calls per phase after ${warmup} warm-up, ${concurrency} in flight on one HTTP/2 connection`,
    );
    console.log("phase             calls/s   server CPU µs/call   client CPU µs/call");
    for (const phase of phases) {
      const [what, protocol] = phase.split("-") as ["health" | "enqueue", "grpc" | "connect"];
      const call: () => Promise<unknown> = what === "health"
        ? (() => {
          const client = createClient(Health, transports[protocol]);
          return () => client.check({});
        })()
        : (() => {
          const client = createClient(TaskService, transports[protocol]);
          return () => client.enqueue({ task: { queue: "unary", type: "noop", payload } });
        })();
      await inFlight(warmup, concurrency, Infinity, call);
      const [server0, self0] = [await cpuMs(server.child.pid), await cpuMs("self")];
      const { ms } = await inFlight(calls, concurrency, Infinity, call);
      const [server1, self1] = [await cpuMs(server.child.pid), await cpuMs("self")];
      const perCall = (cpu: number) => ((cpu * 1000) / calls).toFixed(0).padStart(20);
      console.log(
        `${phase.padEnd(16)}${(calls / (ms / 1000)).toFixed(0).padStart(8)} ${perCall(server1 - server0)} ${
          perCall(self1 - self0)
        }`,
      );
    }
  } finally {
    await sql.end();
    await stopServer(server, 15_000);
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    await dropDatabase(adminUrl, databaseUrl);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`unary_cost failed: ${(error as Error).stack ?? error}`);
    Deno.exit(1);
  }
}
