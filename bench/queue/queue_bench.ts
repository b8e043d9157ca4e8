/**
 * `deno task bench:queue`: taskmesh against BullMQ on the same machine, the same Redis
 * server and in the same run, doing the same work (issue 5): enqueue rate (single calls
 * and batches), tasks processed per second by one worker process at several
 * concurrencies, enqueue→start latency on an idle system, and the time from killing a
 * worker to its tasks running again on another. Phases alternate between the two
 * systems; each starts from a clean slate. Results go to bench/results/queue-bench.json
 * and queue-bench.md.
 *
 * Flags (all optional): --tasks=20000 --enqueue-concurrency=50 --batch=1000
 *   --concurrency=100,10,1 --limit-s=30 (an enqueue or a processing run stops there: the rate is
 *   over what was done) --latency-samples=300 --requeue-tasks=10 --requeue-limit-s=150
 *   --systems=taskmesh,bullmq --phases=throughput,latency,requeue
 *   --server-cpu-prof=DIR, --worker-cpu-prof=DIR (taskmesh's server or worker processes run
 *   under --cpu-prof and write their profiles there) --no-write
 * Env: BENCH_ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
 *   database taskmesh_bench_<random> is created through it and dropped at the end),
 *   BENCH_TASKMESH_REDIS_URL (default redis://127.0.0.1:6379/13), BENCH_BULLMQ_REDIS_URL
 *   (default redis://127.0.0.1:6379/14). Both Redis databases are flushed: the bench
 *   refuses to start when one holds keys that are neither taskmesh's nor BullMQ's.
 */
import { Redis } from "ioredis";
import { flagValue, hasFlag } from "../rpc/_flags.ts";
import { startBullmq } from "./_bullmq.ts";
import { deadWorkerRequeue, enqueueAndProcess, enqueueToStart } from "./_phases.ts";
import { buildRows, markdown, type SideResults, targetsLine, textTable } from "./_report.ts";
import type { QueueSystem } from "./_system.ts";
import { startTaskmesh } from "./_taskmesh.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS = `${ROOT}bench/results/queue-bench`;

function intFlag(name: string, fallback: number): number {
  const value = Number(flagValue(Deno.args, name) ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

function listFlag(name: string, fallback: string[]): string[] {
  return (flagValue(Deno.args, name) ?? fallback.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
}

function readParameters() {
  const concurrencies = listFlag("concurrency", ["100", "10", "1"]).map(Number);
  if (concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) {
    throw new Error("--concurrency takes whole numbers from 1 to 1000");
  }
  return {
    tasks: intFlag("tasks", 20_000),
    enqueueConcurrency: intFlag("enqueue-concurrency", 50),
    batch: Math.min(intFlag("batch", 1000), 1000),
    concurrencies,
    latencySamples: intFlag("latency-samples", 300),
    latencyWarmup: 20,
    latencyGapMs: 10,
    latencyWorkerConcurrency: 10,
    requeueTasks: intFlag("requeue-tasks", 10),
    requeueLimitMs: intFlag("requeue-limit-s", 150) * 1000,
    limitMs: intFlag("limit-s", 30) * 1000,
    systems: listFlag("systems", ["taskmesh", "bullmq"]),
    phases: listFlag("phases", ["throughput", "latency", "requeue"]),
    cpuProf: flagValue(Deno.args, "server-cpu-prof"),
    workerCpuProf: flagValue(Deno.args, "worker-cpu-prof"),
    write: !hasFlag(Deno.args, "no-write"),
    adminDatabaseUrl: Deno.env.get("BENCH_ADMIN_DATABASE_URL") ??
      "postgres://postgres@127.0.0.1:5432/postgres",
    taskmeshRedis: Deno.env.get("BENCH_TASKMESH_REDIS_URL") ?? "redis://127.0.0.1:6379/13",
    bullmqRedis: Deno.env.get("BENCH_BULLMQ_REDIS_URL") ?? "redis://127.0.0.1:6379/14",
  };
}
type Parameters = ReturnType<typeof readParameters>;

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
  const bullmq = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).imports?.bullmq ?? "";
  const loadavg = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3).join(" ");
  return {
    nproc: navigator.hardwareConcurrency,
    loadavg_before: loadavg,
    cpu: cpuinfo.match(/model name\s*:\s*(.+)/)?.[1]?.trim(),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    bullmq: bullmq.replace(/^npm:bullmq@/, ""),
  };
}

function notes(p: Parameters, redisVersion: string): string[] {
  return [
    `Both systems on this one machine, unpinned, against one Redis ${redisVersion} server (taskmesh on ${p.taskmeshRedis}, BullMQ on ${p.bullmqRedis}); taskmesh also on Postgres (a database made for the run). Every phase starts from a clean slate: FLUSHDB of the system's Redis database, and for taskmesh TRUNCATE of its task tables. Phases alternate between the systems.`,
    `Tasks are no-ops: taskmesh's built-in \`noop\` handler in the real worker process (worker/main.ts), and a BullMQ Worker in its own Deno process (bench/queue/bullmq_worker.ts) whose processor returns at once. Payload \`{}\` for both. BullMQ default job options (completed jobs kept) and worker defaults apart from concurrency.`,
    `Enqueue, single: up to ${p.tasks} calls (taskmesh Enqueue over one HTTP/2 gRPC connection with a tasks:enqueue API key; BullMQ Queue.add on one ioredis connection), ${p.enqueueConcurrency} in flight; tasks / wall time from the first call to the last answer. Batched: up to ${p.tasks} tasks as EnqueueBatch / addBulk calls of ${p.batch}, one at a time. Enqueue happens with no worker running.`,
    `Processed per second: after the enqueue, one worker process at the given concurrency runs the tasks; the figure is tasks / (last finish − first start) as each system recorded them (taskmesh task_attempts.started_at and ended_at; BullMQ job.processedOn and finishedOn), so process start-up is not counted.`,
    `Time limit: an enqueue run issues no new call after ${
      p.limitMs / 1000
    } s, and a processing run drains its worker after ${
      p.limitMs / 1000
    } s (what it holds finishes and counts); rates are then over the tasks done, shown in the "tasks" column. This keeps the whole run under 6 minutes however slow a side is.`,
    `Enqueue → start: one task at a time on an idle system (worker concurrency ${p.latencyWorkerConcurrency}, ${p.latencyWarmup} warm-up tasks, then ${p.latencySamples} samples, ${p.latencyGapMs} ms pause after each start). Start = the worker's own "task started" line with its clock (taskmesh worker at --log-level=debug; the BullMQ processor prints the same line first thing), minus the client's clock just before the enqueue call; all clocks are this machine's, in whole ms. "Recorded start" uses the system's record instead: taskmesh's attempt started_at, BullMQ's job.processedOn.`,
    `Dead worker: worker A runs ${p.requeueTasks} sleep tasks, worker B (another process, same queue) is connected and idle; A gets SIGKILL; measured from the kill to each task's handler starting on B. taskmesh: a stream that ends gives its leases back at once, and the attempt counts as failed, so the retry waits its backoff (default: full jitter under 1 s) and the promoter's tick (250 ms). BullMQ with its defaults: lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1 — a job comes back when a stalled-job check finds its lock expired. SIGSTOP (taskmesh only): the connection stays open, so the server notices only by missing heartbeats (interval 1 s, lease TTL 2 s); BullMQ cannot tell a frozen worker from a dead one, so its figure is the SIGKILL one. Limit ${
      p.requeueLimitMs / 1000
    } s.`,
    "Redis runs without persistence here (appendonly no, no save); Postgres with fsync and synchronous_commit on: taskmesh commits every accepted task to Postgres before answering, BullMQ's add is durable only as far as Redis is.",
  ];
}

async function main() {
  const p = readParameters();
  const redisVersion = await checkRedisDatabase(p.taskmeshRedis, "tm:");
  await checkRedisDatabase(p.bullmqRedis, "bull:");
  if (p.taskmeshRedis === p.bullmqRedis) {
    throw new Error("taskmesh and BullMQ need different Redis databases");
  }
  // Read first: the load others put on this shared machine is part of what the figures mean.
  const info = await machine();
  const tmp = await Deno.makeTempDir({ prefix: "bench-queue-" });
  const systems: QueueSystem[] = [];
  const results: Record<string, SideResults> = {
    taskmesh: { enqueueBatched: [], processed: {} },
    bullmq: { enqueueBatched: [], processed: {} },
  };
  const began = Date.now();
  const say = (line: string) =>
    console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  try {
    if (p.systems.includes("taskmesh")) {
      say("starting the taskmesh server");
      systems.push(
        await startTaskmesh({
          adminDatabaseUrl: p.adminDatabaseUrl,
          redisUrl: p.taskmeshRedis,
          tmp,
          logLevel: "warn",
          cpuProfDir: p.cpuProf,
          workerCpuProfDir: p.workerCpuProf,
        }),
      );
    }
    if (p.systems.includes("bullmq")) systems.push(await startBullmq(p.bullmqRedis));
    // Alternate which system goes first, so neither always runs on a machine the other just warmed.
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
              `concurrency ${c}: ${r.processed.tasksPerSecond} tasks/s (${r.processed.tasks} in ${r.processed.seconds} s)`,
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
        say(
          `${sys.name}: enqueue → handler start p50 ${r.handlerStart.p50} ms, p99 ${r.handlerStart.p99} ms`,
        );
      }
    }
    if (p.phases.includes("requeue")) {
      for (const sys of systems) {
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
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  const rows = buildRows(results.taskmesh, results.bullmq, p);
  console.log("");
  console.log(textTable(rows, results.taskmesh, results.bullmq));
  console.log(`\n${targetsLine(rows)}`);
  console.log(`\nwhole run: ${((Date.now() - began) / 1000).toFixed(0)} s`);
  if (!p.write) return;
  const date = new Date(began).toISOString();
  info.loadavg_after = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3).join(
    " ",
  );
  const { adminDatabaseUrl: _a, cpuProf: _c, workerCpuProf: _wc, write: _w, ...parameters } = p;
  const report = { date, machine: info, parameters, rows, results, notes: notes(p, redisVersion) };
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  await Deno.writeTextFile(`${RESULTS}.json`, JSON.stringify(report, null, 2) + "\n");
  await Deno.writeTextFile(
    `${RESULTS}.md`,
    markdown(rows, results.taskmesh, results.bullmq, { date, machine: info, notes: notes(p, redisVersion) }),
  );
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
