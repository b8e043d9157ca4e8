/**
 * `deno task bench:schedules` (issue 12): 1,000 schedules firing every second for 60 s,
 * on one taskmesh instance and then on two, beside BullMQ job schedulers
 * (`upsertJobScheduler`) doing the same with one and two workers, in the same run. Each
 * round reports fire lateness p50/p99 (and max), fires per second, ticks missed or
 * doubled, and the CPU of the instance processes. Results go to
 * bench/results/schedules-bench.json and .md.
 *
 * Where lateness is taken: taskmesh, from the tick to its task's commit in Postgres
 * (tasks.created_at, the moment it is enqueued and claimable); BullMQ, from the job's
 * intended time to a worker taking it (job.processedOn), since BullMQ holds the next job
 * of a scheduler in its delayed set ahead of time and it becomes work only when taken.
 *
 * Flags: --schedules=1000 --seconds=60 --instances=1,2 --systems=taskmesh,bullmq --no-write
 *   --quick: 100 schedules for 10 s (a smoke run; writes nothing unless --write).
 * Env: BENCH_SCHEDULES_REDIS_URL (default TEST_REDIS_URL, else redis://127.0.0.1:6379); the
 *   bench uses its own key prefixes there and deletes them. Postgres: a schema of its own
 *   made through TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { flagValue, hasFlag } from "../rpc/_flags.ts";
import type { RoundFigures } from "./_measure.ts";
import { bullmqRound, taskmeshRound } from "./_rounds.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS = `${ROOT}bench/results/schedules-bench`;
const QUICK = hasFlag(Deno.args, "quick");

function intFlag(name: string, fallback: number, quick: number): number {
  const value = Number(flagValue(Deno.args, name) ?? (QUICK ? quick : fallback));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

const fmt = (n: number, digits = 0) => Number.isFinite(n) ? n.toFixed(digits) : "n/a";

function table(rounds: RoundFigures[]): string {
  const head = [
    "system",
    "instances",
    "fires/s",
    "lateness p50 ms",
    "p99 ms",
    "max ms",
    "fires",
    "missed",
    "doubled",
    "CPU (cores)",
  ];
  const rows = rounds.map((r) => [
    r.system,
    String(r.instances),
    fmt(r.firesPerSecond, 1),
    fmt(r.latenessP50Ms),
    fmt(r.latenessP99Ms),
    fmt(r.latenessMaxMs),
    `${r.fires}/${r.expected}`,
    String(r.missed),
    String(r.doubled),
    fmt(r.cpuCores, 2),
  ]);
  return [head, head.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

if (import.meta.main) {
  const schedules = intFlag("schedules", 1000, 100);
  const seconds = intFlag("seconds", 60, 10);
  const instances = (flagValue(Deno.args, "instances") ?? "1,2").split(",").map(Number);
  const systems = (flagValue(Deno.args, "systems") ?? "taskmesh,bullmq").split(",");
  const redisUrl = Deno.env.get("BENCH_SCHEDULES_REDIS_URL") ?? Deno.env.get("TEST_REDIS_URL") ??
    "redis://127.0.0.1:6379";
  const write = hasFlag(Deno.args, "write") || (!QUICK && !hasFlag(Deno.args, "no-write"));
  const rounds: RoundFigures[] = [];
  for (const n of instances) {
    for (const system of systems) {
      console.error(`${system}: ${schedules} schedules every second for ${seconds} s on ${n} instance(s)…`);
      const options = { instances: n, schedules, seconds, redisUrl };
      rounds.push(system === "bullmq" ? await bullmqRound(options) : await taskmeshRound(options));
      console.error(table(rounds.slice(-1)));
    }
  }
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "n/a")).split(" ").slice(0, 3).join(" ");
  const md = `# bench:schedules

${schedules} schedules, each firing every second for ${seconds} s; measured ${new Date().toISOString()}
on this machine (${navigator.hardwareConcurrency} cores, load average ${load} at the end), Deno ${Deno.version.deno}.

${table(rounds)}

- Lateness: taskmesh from the tick to its task's commit in Postgres (created_at: enqueued and
  claimable); BullMQ from the job's intended time (the tick in its id, plus offset) to a worker taking it
  (processedOn), as BullMQ keeps a scheduler's next job delayed ahead of time.
- taskmesh: \`taskmesh_instance.ts\` processes (task engine + scheduler loop, as the server runs
  them) on one Postgres schema and one Redis prefix; schedules interval 1 s, overlap ALLOW (no
  worker runs the tasks), catch-up SKIP. BullMQ: \`bullmq_instance.ts\` processes, each a Worker of
  concurrency 1000 whose handler returns at once, \`upsertJobScheduler({ every: 1000 })\`.
- Missed: expected ticks (schedules × seconds) with no fire; doubled: fires of a tick already fired.
- CPU: user + system seconds of the instance processes per wall second over the window, summed
  (Postgres and Redis themselves are not counted).
`;
  console.log(md);
  if (write) {
    await Deno.writeTextFile(`${RESULTS}.md`, md);
    await Deno.writeTextFile(
      `${RESULTS}.json`,
      JSON.stringify({ schedules, seconds, load, rounds }, null, 2) + "\n",
    );
  }
}
