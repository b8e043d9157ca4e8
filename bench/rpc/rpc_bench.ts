/**
 * `deno task bench:rpc`: unary RPC throughput of taskmesh's server against an
 * @grpc/grpc-js server, both answering grpc.health.v1.Health/Check (the cheapest unary
 * method, so the figure is the RPC stack's own cost), under h2load.
 *
 * The servers run pinned to one core, h2load pinned to the other; each is warmed up, then
 * given a fixed number of requests per round; the figure is the median of the rounds.
 * Results go to bench/results/rpc.json.
 *
 * Flags (all optional): --requests=20000 --rounds=3 --clients=20 --streams=10 --warmup=10000
 *   --server-cpus=0 --load-cpus=1 --log-level=warn
 *   --taskmesh=auto|server|grpcjs  (auto: server/main.ts when it exists, else the grpc-js
 *   stand-in, which can measure gRPC only; its figures are marked as a stand-in)
 * Env: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/taskmesh_bench,
 *   created when missing), BENCH_REDIS_URL (default redis://127.0.0.1:6379/15).
 */
import postgres from "postgres";
import { flagValue } from "./_flags.ts";
import { ensureH2load, type H2loadResult, h2loadVersion, runH2load } from "./_h2load.ts";
import { CHECK_PATH, EXPECTED_BODY, probe, type Protocol, REQUEST } from "./_probe.ts";
import {
  freePort,
  logTail,
  type ServerProcess,
  startServer,
  stopServer,
  waitUntilReady,
} from "./_server_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS_FILE = `${ROOT}bench/results/rpc.json`;

interface Parameters {
  requests: number;
  clients: number;
  streams: number;
  warmup: number;
  rounds: number;
  serverCpus?: string;
  loadCpus?: string;
  logLevel: string;
  taskmesh: "server" | "grpcjs";
}

interface Target {
  /** Key in the results: `<server>_<protocol>`. */
  server: "taskmesh" | "grpcjs";
  label: string;
  protocols: Protocol[];
  command: (port: number) => string[];
  env?: (port: number) => Record<string, string>;
  /** A server that migrates a database at start needs longer than a bare one. */
  readyTimeoutMs: number;
}

interface Measurement {
  /** Median over the rounds. */
  requestsPerSecond: number;
  meanLatencyMs: number;
  roundsRequestsPerSecond: number[];
  requestsPerRound: number;
}

function intFlag(name: string, fallback: number): number {
  const raw = flagValue(Deno.args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`--${name} must be a positive integer, got ${raw}`);
  }
  return value;
}

async function commandWorks(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

async function readParameters(): Promise<Parameters> {
  const choice = flagValue(Deno.args, "taskmesh") ?? "auto";
  if (!["auto", "server", "grpcjs"].includes(choice)) {
    throw new Error(`--taskmesh must be auto, server or grpcjs, got ${choice}`);
  }
  const hasServer = await Deno.stat(`${ROOT}server/main.ts`).then(() => true, () => false);
  if (choice === "server" && !hasServer) {
    throw new Error("server/main.ts does not exist yet: use --taskmesh=grpcjs");
  }
  // Pinning needs two cores and taskset; without them the figures are still comparable
  // with each other, only noisier.
  const canPin = navigator.hardwareConcurrency >= 2 && await commandWorks("taskset", ["-c", "0", "true"]);
  if (!canPin) console.log("note: running unpinned (needs taskset and at least two cores)");
  return {
    requests: intFlag("requests", 20000),
    clients: intFlag("clients", 20),
    streams: intFlag("streams", 10),
    warmup: intFlag("warmup", 10000),
    rounds: intFlag("rounds", 3),
    serverCpus: canPin ? flagValue(Deno.args, "server-cpus") ?? "0" : undefined,
    loadCpus: canPin ? flagValue(Deno.args, "load-cpus") ?? "1" : undefined,
    logLevel: flagValue(Deno.args, "log-level") ?? "warn",
    taskmesh: choice === "auto" ? (hasServer ? "server" : "grpcjs") : choice as "server" | "grpcjs",
  };
}

async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Unexpected database name in ${url}`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await sql.unsafe(`create database ${name}`);
  } finally {
    await sql.end();
  }
}

function grpcjsTarget(label: string, server: Target["server"]): Target {
  return {
    server,
    label,
    protocols: ["grpc"],
    command: (port) => ["deno", "run", "-A", `${ROOT}bench/rpc/grpcjs_health_server.ts`, `--port=${port}`],
    readyTimeoutMs: 30_000,
  };
}

function taskmeshTarget(params: Parameters, dataDir: string): Target {
  const databaseUrl = Deno.env.get("BENCH_DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/taskmesh_bench";
  const redisUrl = Deno.env.get("BENCH_REDIS_URL") ?? "redis://127.0.0.1:6379/15";
  return {
    server: "taskmesh",
    label: "taskmesh (server/main.ts)",
    protocols: ["grpc", "connect"],
    command: () => ["deno", "run", "-A", `${ROOT}server/main.ts`],
    env: (port) => ({
      TASKMESH_HOST: "127.0.0.1",
      TASKMESH_PORT: String(port),
      TASKMESH_DATA_DIR: dataDir,
      TASKMESH_LOG_LEVEL: params.logLevel,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
    }),
    readyTimeoutMs: 90_000,
  };
}

interface Running {
  target: Target;
  server: ServerProcess;
}

async function startTarget(
  target: Target,
  params: Parameters,
  tmp: string,
  bodyFiles: Record<Protocol, string>,
) {
  const port = freePort();
  const server = await startServer({
    name: target.label,
    port,
    command: target.command(port),
    env: target.env?.(port),
    cpus: params.serverCpus,
    logFile: `${tmp}/${target.server}.log`,
  });
  let lastDetail = "";
  try {
    await waitUntilReady(server, async () => {
      const result = await probe(port, target.protocols[0], bodyFiles[target.protocols[0]]);
      lastDetail = result.detail;
      return result.ok;
    }, target.readyTimeoutMs);
    for (const protocol of target.protocols) {
      const check = await probe(port, protocol, bodyFiles[protocol]);
      if (!check.ok) {
        throw new Error(`${target.label} answered ${protocol} Health/Check wrongly: ${check.detail}`);
      }
    }
  } catch (error) {
    await stopServer(server);
    throw new Error(`${(error as Error).message}${lastDetail ? `\nlast probe: ${lastDetail}` : ""}`);
  }
  return { target, server };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const ATTEMPTS = 3;

/**
 * Rounds interleave the servers (A, B, A, B, ...) and each figure is the median of its
 * rounds: this machine is shared, and a burst of someone else's work then lands on one
 * round of each side instead of on one whole side.
 *
 * A run with failed requests measured something else: it is reported, left out, and run
 * again (up to ATTEMPTS times). A server that died is started again and warmed up first;
 * under Deno 2.9, node:http2 can abort the process on an nghttp2 assertion when a client
 * closes its connection, and the grpc-js baseline hits it now and then.
 */
async function measure(
  running: Running[],
  params: Parameters,
  bodyFiles: Record<Protocol, string>,
  restart: (entry: Running) => Promise<void>,
): Promise<{ measurements: Record<string, Measurement>; problems: string[] }> {
  const problems: string[] = [];
  const runs = running.flatMap((entry) =>
    entry.target.protocols.map((protocol) => ({
      key: `${entry.target.server}_${protocol}`,
      entry,
      label: `${entry.target.label} ${protocol}`,
      protocol,
    }))
  );
  type Run = (typeof runs)[number];
  const h2load = (run: Run, requests: number) =>
    runH2load({
      url: `http://127.0.0.1:${run.entry.server.port}${CHECK_PATH}`,
      headers: REQUEST[run.protocol].headers,
      bodyFile: REQUEST[run.protocol].body.length > 0 ? bodyFiles[run.protocol] : undefined,
      requests,
      clients: params.clients,
      streams: params.streams,
      cpus: params.loadCpus,
    });
  const warmUp = async (entry: Running) => {
    for (const run of runs.filter((r) => r.entry === entry)) {
      const problem = verify(run.protocol, await h2load(run, params.warmup));
      if (problem) console.log(`warning: warm-up of ${run.label} was not clean: ${problem}`);
    }
  };
  for (const entry of running) await warmUp(entry);

  const samples = new Map<string, H2loadResult[]>(runs.map((run) => [run.key, []]));
  for (let round = 1; round <= params.rounds; round++) {
    for (const run of runs) {
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        const result = await h2load(run, params.requests);
        const line =
          `round ${round}/${params.rounds} ${run.label}: ${result.requestsPerSecond.toFixed(0)} req/s ` +
          `(${result.seconds.toFixed(2)} s, mean latency ${result.meanLatencyMs.toFixed(2)} ms)`;
        const server = run.entry.server;
        const exited = server.exitCode === undefined
          ? undefined
          : `the server exited with code ${server.exitCode}`;
        const problem = [verify(run.protocol, result), exited].filter(Boolean).join("; ");
        if (!problem) {
          samples.get(run.key)!.push(result);
          console.log(line);
          break;
        }
        problems.push(`round ${round} attempt ${attempt} ${run.label}: ${problem}`);
        console.log(`${line} — not counted: ${problem}`);
        console.log(
          `  ${server.name} log ends:\n${(await logTail(server.logFile, 15)).replace(/^/gm, "    ")}`,
        );
        if (exited) {
          console.log(`  starting ${server.name} again`);
          await restart(run.entry);
          await warmUp(run.entry);
        }
      }
    }
  }
  const measurements = Object.fromEntries(runs.map((run) => {
    const results = samples.get(run.key)!;
    if (results.length === 0) throw new Error(`No clean round for ${run.label}:\n${problems.join("\n")}`);
    return [run.key, {
      requestsPerSecond: median(results.map((r) => r.requestsPerSecond)),
      meanLatencyMs: median(results.map((r) => r.meanLatencyMs)),
      roundsRequestsPerSecond: results.map((r) => r.requestsPerSecond),
      requestsPerRound: params.requests,
    }];
  }));
  return { measurements, problems };
}

/**
 * Every request must have come back 2xx with the exact SERVING body: h2load counts a
 * gRPC error (HTTP 200, grpc-status in a trailer, no body) as a success, but its body is
 * empty, so the byte count catches it. Returns what was wrong, or undefined.
 */
function verify(protocol: Protocol, result: H2loadResult): string | undefined {
  const expectedBytes = result.total * EXPECTED_BODY[protocol].length;
  const problems = [];
  if (result.succeeded !== result.total || result.status2xx !== result.total) {
    problems.push(
      `${result.succeeded}/${result.total} succeeded, ${result.status2xx} 2xx, ${result.errored} errored, ${result.timeout} timed out`,
    );
  }
  if (result.dataBytes !== expectedBytes) {
    problems.push(`${result.dataBytes} response body bytes, expected ${expectedBytes}`);
  }
  return problems.length > 0 ? problems.join("; ") : undefined;
}

async function cpuModel(): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.+)/)?.[1]?.trim();
  } catch {
    return undefined;
  }
}

function ratio(numerator?: Measurement, denominator?: Measurement): number | null {
  if (!numerator || !denominator) return null;
  return Number((numerator.requestsPerSecond / denominator.requestsPerSecond).toFixed(3));
}

async function main() {
  const params = await readParameters();
  await ensureH2load();
  if (!(await commandWorks("curl", ["--version"]))) {
    throw new Error("curl is missing: install it and run again");
  }

  const tmp = await Deno.makeTempDir({ prefix: "bench-rpc-" });
  const bodyFiles = { grpc: `${tmp}/grpc.body`, connect: `${tmp}/connect.body` };
  await Deno.writeFile(bodyFiles.grpc, REQUEST.grpc.body);
  await Deno.writeFile(bodyFiles.connect, REQUEST.connect.body);

  const targets: Target[] = [];
  if (params.taskmesh === "server") {
    const databaseUrl = Deno.env.get("BENCH_DATABASE_URL") ??
      "postgres://postgres@127.0.0.1:5432/taskmesh_bench";
    await ensureDatabase(databaseUrl);
    await Deno.mkdir(`${tmp}/data`);
    targets.push(taskmeshTarget(params, `${tmp}/data`));
  } else {
    console.log("note: server/main.ts is not there; a grpc-js stand-in plays taskmesh (gRPC only)");
    targets.push(grpcjsTarget("taskmesh stand-in (grpc-js)", "taskmesh"));
  }
  targets.push(grpcjsTarget("grpc-js", "grpcjs"));

  console.log(
    `Health/Check: ${params.rounds} rounds of ${params.requests} requests after ${params.warmup} warm-up, ${params.clients} clients × ${params.streams} streams; ` +
      `servers on cpu ${params.serverCpus ?? "any"}, h2load on cpu ${params.loadCpus ?? "any"}`,
  );
  // All servers stay up for the whole run, each pinned to the same core; the idle one
  // costs the measured one next to nothing.
  const running: Running[] = [];
  let results: Record<string, Measurement>;
  let problems: string[];
  try {
    for (const target of targets) running.push(await startTarget(target, params, tmp, bodyFiles));
    const restart = async (entry: Running) => {
      await stopServer(entry.server);
      entry.server = (await startTarget(entry.target, params, tmp, bodyFiles)).server;
    };
    ({ measurements: results, problems } = await measure(running, params, bodyFiles, restart));
  } finally {
    for (const { server } of running) await stopServer(server);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const ratios = {
    "taskmesh_grpc/grpcjs_grpc": ratio(results.taskmesh_grpc, results.grpcjs_grpc),
    "taskmesh_connect/grpcjs_grpc": ratio(results.taskmesh_connect, results.grpcjs_grpc),
  };
  console.log("");
  for (const [name, measurement] of Object.entries(results)) {
    console.log(`${name.padEnd(18)} ${measurement.requestsPerSecond.toFixed(0).padStart(8)} req/s`);
  }
  for (const [name, value] of Object.entries(ratios)) {
    console.log(`${name.padEnd(30)} ${value === null ? "not measured" : value.toFixed(2)}`);
  }

  if (problems.length > 0) {
    console.log(`\nwarning: ${problems.length} round(s) had failed requests and were not counted:`);
    for (const problem of problems) console.log(`  ${problem}`);
  }

  const report = {
    date: new Date().toISOString(),
    machine: {
      nproc: navigator.hardwareConcurrency,
      cpu: await cpuModel(),
      os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      h2load: await h2loadVersion(),
    },
    parameters: {
      method: "grpc.health.v1.Health/Check",
      requests: params.requests,
      warmup: params.warmup,
      rounds: params.rounds,
      clients: params.clients,
      streamsPerClient: params.streams,
      serverCpus: params.serverCpus ?? "unpinned",
      loadCpus: params.loadCpus ?? "unpinned",
      taskmeshServer: params.taskmesh === "server"
        ? "server/main.ts"
        : "stand-in: grpc-js (server/main.ts missing)",
      taskmeshLogLevel: params.taskmesh === "server" ? params.logLevel : null,
    },
    requestsPerSecond: Object.fromEntries(
      Object.entries(results).map(([name, measurement]) => [name, measurement.requestsPerSecond]),
    ),
    results,
    ratios,
    problems,
  };
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  await Deno.writeTextFile(RESULTS_FILE, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nwrote ${RESULTS_FILE.slice(ROOT.length)}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`bench:rpc failed: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
