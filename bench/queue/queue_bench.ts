/**
 * `deno task bench:queue`: taskmesh against the queues users would weigh, on the same
 * machine and in the same run, doing the same work (issues 5 and 11): BullMQ on the shared
 * Redis as it runs by default, BullMQ on a Redis the bench starts with `appendfsync
 * always`, and the Postgres queues graphile-worker and pg-boss, each with its documented
 * throughput settings. Measured: enqueue rate (single calls and batches), tasks processed
 * per second by one worker process at several concurrencies, enqueue→start latency on an
 * idle system, and the time from killing a worker to its tasks running again on another.
 * Phases alternate the order of the systems; each starts from a clean slate. Results go
 * to bench/results/queue-bench.json and queue-bench.md, with the ratio taskmesh / each peer.
 *
 * Flags (all optional): --tasks=20000 --enqueue-concurrency=50 --batch=1000
 *   --concurrency=100,10,1 --limit-s=30 (an enqueue or a processing run stops there: the rate is
 *   over what was done) --latency-samples=300 --requeue-tasks=10 --requeue-limit-s=150
 *   --systems=taskmesh,bullmq,bullmq-aof,graphile-worker,pg-boss --phases=throughput,latency,requeue
 *   --server-cpu-prof=DIR, --worker-cpu-prof=DIR (taskmesh's server or worker processes run
 *   under --cpu-prof and write their profiles there) --no-write
 *   --v8-defaults (taskmesh's processes with V8's own heap settings, not deno.json's launch flags)
 *   --taskmesh-client=grpc|connect (the protocol of taskmesh's enqueue client, gRPC by default;
 *   both binary over one HTTP/2 connection)
 *   --quick: a smoke run in about two minutes (2,000 tasks, 50 latency samples, 10 s limits,
 *   no requeue phase, nothing written); any flag given beside it still wins.
 * Env: BENCH_ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; the
 *   databases taskmesh_bench_*, graphile_bench_* and pgboss_bench_* are created through it
 *   and dropped at the end), BENCH_TASKMESH_REDIS_URL (default redis://127.0.0.1:6379/13),
 *   BENCH_BULLMQ_REDIS_URL (default redis://127.0.0.1:6379/14). Both Redis databases are
 *   flushed: the bench refuses to start when one holds keys that are neither taskmesh's nor
 *   BullMQ's. `redis-server` must be on PATH for bullmq-aof.
 */
import { Redis } from "ioredis";
import { flagValue, hasFlag } from "../rpc/_flags.ts";
import { startBullmq } from "./_bullmq.ts";
import { startGraphile } from "./_graphile.ts";
import { notes } from "./_notes.ts";
import { deadWorkerRequeue, enqueueAndProcess, enqueueToStart } from "./_phases.ts";
import { startPgBoss } from "./_pgboss.ts";
import { type AofRedis, startAofRedis } from "./_redis_aof.ts";
import { buildRows, markdown, notApplicableLines, type Run, targetsLine, textTable } from "./_report.ts";
import { type QueueSystem, type SystemName, SYSTEMS } from "./_system.ts";
import { startTaskmesh } from "./_taskmesh.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS = `${ROOT}bench/results/queue-bench`;

const QUICK = hasFlag(Deno.args, "quick");

function intFlag(name: string, fallback: number, quick = fallback): number {
  const value = Number(flagValue(Deno.args, name) ?? (QUICK ? quick : fallback));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

function listFlag(name: string, fallback: string[], quick = fallback): string[] {
  return (flagValue(Deno.args, name) ?? (QUICK ? quick : fallback).join(",")).split(",").map((s) => s.trim())
    .filter(Boolean);
}

function clientProtocol(value: string): "grpc" | "connect" {
  if (value !== "grpc" && value !== "connect") throw new Error("--taskmesh-client takes grpc or connect");
  return value;
}

function readParameters() {
  const concurrencies = listFlag("concurrency", ["100", "10", "1"]).map(Number);
  if (concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) {
    throw new Error("--concurrency takes whole numbers from 1 to 1000");
  }
  const systems = listFlag("systems", [...SYSTEMS]);
  const unknown = systems.filter((s) => !(SYSTEMS as readonly string[]).includes(s));
  if (unknown.length) {
    throw new Error(`--systems: unknown ${unknown.join(", ")}; known: ${SYSTEMS.join(", ")}`);
  }
  return {
    quick: QUICK,
    tasks: intFlag("tasks", 20_000, 2_000),
    enqueueConcurrency: intFlag("enqueue-concurrency", 50),
    batch: Math.min(intFlag("batch", 1000), 1000),
    concurrencies,
    latencySamples: intFlag("latency-samples", 300, 50),
    latencyWarmup: 20,
    latencyGapMs: 10,
    latencyWorkerConcurrency: 10,
    requeueTasks: intFlag("requeue-tasks", 10),
    requeueLimitMs: intFlag("requeue-limit-s", 150) * 1000,
    limitMs: intFlag("limit-s", 30, 10) * 1000,
    // taskmesh first: every ratio is taskmesh / a peer.
    systems: SYSTEMS.filter((s) => systems.includes(s)),
    phases: listFlag("phases", ["throughput", "latency", "requeue"], ["throughput", "latency"]),
    taskmeshClient: clientProtocol(flagValue(Deno.args, "taskmesh-client") ?? "grpc"),
    cpuProf: flagValue(Deno.args, "server-cpu-prof"),
    workerCpuProf: flagValue(Deno.args, "worker-cpu-prof"),
    v8Defaults: hasFlag(Deno.args, "v8-defaults"),
    write: !hasFlag(Deno.args, "no-write") && !QUICK,
    adminDatabaseUrl: Deno.env.get("BENCH_ADMIN_DATABASE_URL") ??
      "postgres://postgres@127.0.0.1:5432/postgres",
    taskmeshRedis: Deno.env.get("BENCH_TASKMESH_REDIS_URL") ?? "redis://127.0.0.1:6379/13",
    bullmqRedis: Deno.env.get("BENCH_BULLMQ_REDIS_URL") ?? "redis://127.0.0.1:6379/14",
  };
}
export type Parameters = ReturnType<typeof readParameters>;

/** Refuses a Redis database that holds someone else's keys: the bench flushes it. */
async function checkRedisDatabase(url: string, ours: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    const [, keys] = await redis.scan("0", "COUNT", 1000);
    const foreign = keys.find((k) => !k.startsWith(ours));
    if (foreign !== undefined) {
      throw new Error(
        `${url} holds keys that are not the bench's (e.g. ${foreign}): pick an empty database index with the env variable`,
      );
    }
    return (await redis.info("server")).match(/redis_version:(\S+)/)?.[1] ?? "unknown";
  } finally {
    redis.disconnect();
  }
}

async function machine(): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const imports = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).imports ?? {};
  const version = (name: string) => String(imports[name] ?? "").replace(new RegExp(`^npm:${name}@`), "");
  return {
    nproc: navigator.hardwareConcurrency,
    loadavg_before: await loadavg(),
    cpu: cpuinfo.match(/model name\s*:\s*(.+)/)?.[1]?.trim(),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    bullmq: version("bullmq"),
    "graphile-worker": version("graphile-worker"),
    "pg-boss": version("pg-boss"),
  };
}

async function loadavg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3).join(" ");
}

/** Starts the systems asked for, in SYSTEMS order; a failure stops those already started. */
async function startSystems(
  p: Parameters,
  tmp: string,
  say: (line: string) => void,
  started: { systems: QueueSystem[]; aof?: AofRedis },
): Promise<void> {
  const want = (s: SystemName) => p.systems.includes(s);
  if (want("taskmesh")) {
    say("starting the taskmesh server");
    started.systems.push(
      await startTaskmesh({
        adminDatabaseUrl: p.adminDatabaseUrl,
        redisUrl: p.taskmeshRedis,
        tmp,
        logLevel: "warn",
        cpuProfDir: p.cpuProf,
        workerCpuProfDir: p.workerCpuProf,
        v8Defaults: p.v8Defaults,
        clientProtocol: p.taskmeshClient,
      }),
    );
  }
  if (want("bullmq")) {
    started.systems.push(
      await startBullmq(
        p.bullmqRedis,
        "bullmq",
        `BullMQ on the shared Redis (${p.bullmqRedis}), which runs without persistence (appendonly no, no save).`,
      ),
    );
  }
  if (want("bullmq-aof")) {
    say("starting redis-server with appendonly yes, appendfsync always");
    started.aof = await startAofRedis(tmp);
    started.systems.push(
      await startBullmq(
        started.aof.url,
        "bullmq-aof",
        `BullMQ (AOF always): the same producer and worker against a Redis ${started.aof.version} the bench started for the run on a free loopback port (${started.aof.url}), its files in a temporary folder, with appendonly yes, appendfsync always (every write fsynced before Redis answers) and no RDB snapshots; stopped at the end.`,
        {
          requeue:
            "the same stalled-job check as BullMQ on the default Redis (lockDuration and stalledInterval 30 s); not run again",
        },
      ),
    );
  }
  if (want("graphile-worker")) {
    say("creating graphile-worker's database");
    started.systems.push(await startGraphile(p.adminDatabaseUrl));
  }
  if (want("pg-boss")) {
    say("creating pg-boss's database");
    started.systems.push(await startPgBoss(p.adminDatabaseUrl));
  }
}

/** "machine 240, server 90, worker 60, postgres 50, redis 10, other 30" (roles with nothing spent left out). */
function cpuLine(us: Record<string, number>): string {
  return Object.entries(us).filter(([role, v]) => role === "machine" || v > 0).map(([role, v]) =>
    `${role} ${v}`
  )
    .join(", ");
}

async function main() {
  const p = readParameters();
  if (p.systems.includes("taskmesh")) await checkRedisDatabase(p.taskmeshRedis, "tm:");
  const redisVersion = await checkRedisDatabase(p.bullmqRedis, "bull:");
  if (p.taskmeshRedis === p.bullmqRedis) {
    throw new Error("taskmesh and BullMQ need different Redis databases");
  }
  // Read first: the load others put on this shared machine is part of what the figures mean.
  const info = await machine();
  const tmp = await Deno.makeTempDir({ prefix: "bench-queue-" });
  const started: { systems: QueueSystem[]; aof?: AofRedis } = { systems: [] };
  const systems = started.systems;
  const run: Run = {
    systems: p.systems,
    results: Object.fromEntries(p.systems.map((s) => [s, { enqueueBatched: [], processed: {} }])),
    notApplicable: {},
  };
  const results = run.results as Record<SystemName, NonNullable<Run["results"][SystemName]>>;
  const began = Date.now();
  const say = (line: string) =>
    console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  say(
    `load average ${info.loadavg_before}; systems: ${p.systems.join(", ")}${p.quick ? " (quick run)" : ""}`,
  );
  try {
    await startSystems(p, tmp, say, started);
    // Alternate which system goes first, so none always runs on a machine another just warmed.
    const inTurn = (i: number) => i % 2 === 0 ? systems : [...systems].reverse();

    if (p.phases.includes("throughput")) {
      for (const [i, c] of p.concurrencies.entries()) {
        for (const sys of inTurn(i)) {
          const how = i === 0
            ? { kind: "single" as const, concurrency: p.enqueueConcurrency }
            : { kind: "batched" as const, batch: p.batch };
          const r = await enqueueAndProcess(sys, how, p.tasks, c, p.limitMs);
          const side = results[sys.name];
          if (how.kind === "single") side.enqueueSingle = r.enqueue;
          else side.enqueueBatched.push(r.enqueue);
          side.processed[c] = r.processed;
          say(
            `${sys.name}: enqueue ${how.kind} ${r.enqueue.tasksPerSecond} tasks/s (${r.enqueue.tasks} in ${r.enqueue.seconds} s); ` +
              `concurrency ${c}: ${r.processed.tasksPerSecond} tasks/s (${r.processed.tasks} in ${r.processed.seconds} s; ` +
              `CPU µs a task: ${cpuLine(r.processed.cpuUsPerTask)}; machine ${
                Math.round(r.processed.machineBusy * 100)
              } % busy)`,
          );
        }
      }
    }
    if (p.phases.includes("latency")) {
      for (const sys of inTurn(1)) {
        const r = await enqueueToStart(
          sys,
          p.latencySamples,
          p.latencyWarmup,
          p.latencyGapMs,
          p.latencyWorkerConcurrency,
        );
        results[sys.name].latency = r;
        if (!r.recordedStart) {
          (run.notApplicable.recorded ??= {})[sys.name] =
            "it deletes a job once it completes: no start is left to read";
        }
        say(
          `${sys.name}: enqueue → handler start p50 ${r.handlerStart.p50} ms, p99 ${r.handlerStart.p99} ms`,
        );
      }
    }
    if (p.phases.includes("requeue")) {
      for (const sys of systems) {
        if (sys.name !== "taskmesh") {
          (run.notApplicable.stop ??= {})[sys.name] =
            "run for taskmesh only: a peer that cannot tell a frozen worker from a dead one has its SIGKILL figure";
        }
        if (sys.skips.requeue) {
          (run.notApplicable.requeue ??= {})[sys.name] = sys.skips.requeue;
          say(`${sys.name}: no requeue run (${sys.skips.requeue})`);
          continue;
        }
        say(
          `${sys.name}: SIGKILL of a worker holding ${p.requeueTasks} tasks (limit ${
            p.requeueLimitMs / 1000
          } s)`,
        );
        const r = await deadWorkerRequeue(sys, p.requeueTasks, "SIGKILL", p.requeueLimitMs);
        results[sys.name].requeueKill = r;
        say(`${sys.name}: running again after ${r.handlerStart ? `${r.handlerStart.max} ms (max)` : "—"}`);
        if (sys.name === "taskmesh") {
          const stop = await deadWorkerRequeue(sys, p.requeueTasks, "SIGSTOP", 30_000);
          results.taskmesh.requeueStop = stop;
          say(
            `taskmesh: SIGSTOP → running again after ${
              stop.handlerStart ? `${stop.handlerStart.max} ms` : "—"
            }`,
          );
        }
      }
    }
  } finally {
    for (const sys of systems) await sys.close().catch((e) => console.error(`closing ${sys.name}: ${e}`));
    await started.aof?.stop().catch((e) => console.error(`stopping the AOF redis-server: ${e}`));
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  info.loadavg_after = await loadavg();
  const rows = buildRows(run, p);
  const allNotes = notes(p, redisVersion, systems.map((s) => s.note).filter(Boolean));
  console.log("");
  console.log(textTable(rows, run));
  console.log(`\n${targetsLine(rows)}`);
  for (const line of notApplicableLines(run)) console.log(line);
  console.log(
    `\nload average before ${info.loadavg_before}, after ${info.loadavg_after} (${info.nproc} cores)`,
  );
  console.log(`whole run: ${((Date.now() - began) / 1000).toFixed(0)} s`);
  if (!p.write) return;
  const date = new Date(began).toISOString();
  const { adminDatabaseUrl: _a, cpuProf: _c, workerCpuProf: _wc, write: _w, ...parameters } = p;
  const report = { date, machine: info, parameters, rows, results: run.results, notes: allNotes };
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  await Deno.writeTextFile(`${RESULTS}.json`, JSON.stringify(report, null, 2) + "\n");
  await Deno.writeTextFile(`${RESULTS}.md`, markdown(rows, run, { date, machine: info, notes: allNotes }));
  console.log(`wrote ${RESULTS.slice(ROOT.length)}.json and .md`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`bench:queue failed: ${(error as Error).stack ?? error}`);
    Deno.exit(1);
  }
}
