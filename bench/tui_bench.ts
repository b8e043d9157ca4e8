/**
 * `deno task bench:tui`: is the operator TUI responsive with 10,000 tasks listed? A
 * real server (schema `bench_tui` on TEST_DATABASE_URL, rebuilt each run, embedded
 * broker) holds 10,000 tasks; the TUI lists them all over gRPC and renders into a
 * 160×48 fake terminal (ink-testing-library, React's production build). Each bench
 * is one interaction, timed from the key press to the frame that shows its effect:
 * key handling, React render, Yoga layout and the frame's text together.
 *
 * Besides `deno bench`'s table, the frame times go to bench/results/tui-frames.json
 * and tui-frames.md (median, p95, p99, max per interaction).
 */
import "../tui/_production.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import {
  TaskSchema,
  TaskService,
  TaskState,
  WatchTasksResponseSchema,
} from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { startApp } from "../server/app.ts";
import { createAdmin } from "../server/auth/first_admin.ts";
import { systemClock } from "../server/clock.ts";
import { migrate } from "../server/db/migrate.ts";
import { connectPostgres } from "../server/db/postgres.ts";
import { testDatabaseUrl } from "../server/db/testing.ts";
import { loadConfig } from "../server/load_config.ts";
import { createMemoryLogger } from "../server/log.ts";
import { KEYS, renderTui } from "../tests/_support/tui_harness.ts";
import { signInWithPassword } from "../tui/data/sign_in.ts";
import { newestCreatedFirst, reduceTaskList, type TaskList } from "../tui/data/task_list_reducer.ts";

const SCHEMA = "bench_tui";
const TASKS = 10_000;
const SIZE = { columns: 160, rows: 48 };
const ROOT = new URL("../", import.meta.url).pathname;

// --- A server with 10,000 tasks -------------------------------------------------------
const admin = connectPostgres(testDatabaseUrl(), { max: 1 });
await admin`drop schema if exists ${admin(SCHEMA)} cascade`;
await admin`create schema ${admin(SCHEMA)}`;
await admin.end();
const sql = connectPostgres(testDatabaseUrl(), { schema: SCHEMA, max: 8 });
await migrate(sql);
const config = loadConfig({
  TASKMESH_HOST: "127.0.0.1",
  TASKMESH_PORT: "0",
  TASKMESH_LOG_LEVEL: "warn",
  TASKMESH_DATA_DIR: await Deno.makeTempDir({ prefix: "taskmesh-bench-tui-" }),
});
const app = await startApp({
  config,
  sql,
  redis: { kind: "embedded" },
  clock: systemClock,
  log: createMemoryLogger("warn"),
});
const email = "bench-admin@example.com";
const password = "correct horse battery staple";
await createAdmin({ sql, clock: systemClock }, { email, password });
const transport = createGrpcTransport({ baseUrl: app.url });
const token = (await createClient(AuthService, transport).login({ email, password })).tokens!.accessToken;
const tasks = createClient(TaskService, transport);
const enc = new TextEncoder();
for (let batch = 0; batch < TASKS / 1000; batch++) {
  await tasks.enqueueBatch({
    tasks: Array.from({ length: 1000 }, (_, i) => {
      const n = batch * 1000 + i;
      return {
        queue: `queue-${n % 7}`,
        type: `bench.${n % 9}`,
        payload: enc.encode(JSON.stringify({ n, to: `user${n}@example.com` })),
      };
    }),
  }, { headers: { authorization: `Bearer ${token}` } });
}

// --- The TUI, listing all of them -----------------------------------------------------
const session = await signInWithPassword(app.url, email, password);
const listStarted = performance.now();
const screen = renderTui({ url: app.url, session, initialView: "tasks" }, SIZE);
await screen.waitFor(`Tasks ${TASKS}`, 120_000);
const listMs = performance.now() - listStarted;

const samples = new Map<string, number[]>();
/** Presses keys and times until the frame satisfies `shows`. */
async function timed(name: string, keys: string[], shows: (frame: string) => boolean): Promise<void> {
  const started = performance.now();
  screen.press(...keys);
  await screen.waitFor(shows);
  const ms = performance.now() - started;
  samples.set(name, [...(samples.get(name) ?? []), ms]);
}
const windowLabel = (frame: string) => /(\d+)–(\d+) of 10000/.exec(frame)?.slice(1).map(Number) ?? [0, 0];

// Past the window's last row, so that every further `j` moves the window by one.
screen.press(..."j".repeat(SIZE.rows));
await screen.waitFor((f) => windowLabel(f)[0] > 1);

Deno.bench({
  name: "j: one row down (the window scrolls), 10,000 tasks",
  group: "navigate",
  baseline: true,
  n: 300,
  warmup: 20,
  async fn() {
    const [start] = windowLabel(screen.lastFrame());
    await timed("j (scroll one row)", ["j"], (f) => windowLabel(f)[0] === start + 1);
  },
});

Deno.bench({
  name: "pgdn / g: a page down, or back to the top",
  group: "navigate",
  n: 200,
  warmup: 10,
  async fn() {
    const [start, end] = windowLabel(screen.lastFrame());
    if (end >= TASKS - 50) await timed("g (back to the top)", ["g"], (f) => windowLabel(f)[0] === 1);
    else await timed("pgdn (page down)", ["\u0006"], (f) => windowLabel(f)[0] > start);
  },
});

Deno.bench({
  name: "G: jump to the 10,000th task",
  group: "navigate",
  n: 50,
  warmup: 5,
  async fn() {
    screen.press("g");
    await screen.waitFor((f) => windowLabel(f)[0] === 1);
    await timed("G (bottom)", ["G"], (f) => windowLabel(f)[1] === TASKS);
  },
});

Deno.bench({
  name: "/ filter: enter applies a word to 10,000 tasks; then cleared",
  group: "filter",
  n: 40,
  warmup: 4,
  async fn() {
    // Typing the word is not timed (each key is a small frame); enter filters 10,000 tasks.
    screen.press("/", ..."bench.7");
    await screen.waitFor("/bench.7");
    await timed(
      "enter: filter 10,000 tasks by a word",
      [KEYS.enter],
      (f) => /Tasks \d+ of 10000/.test(f) && f.includes("filter: bench.7"),
    );
    screen.press("/", KEYS.ctrlU);
    await screen.waitFor((f) => !f.includes("/bench.7") && !f.includes("filter: bench.7"));
    await timed("enter: clear the filter", [KEYS.enter], (f) => f.includes(`Tasks ${TASKS} `));
  },
});

// --- The reducer alone: a burst of live events into 10,000 tasks -----------------------
const big: TaskList = {
  tasks: Array.from({ length: TASKS }, (_, i) =>
    create(TaskSchema, {
      id: `t${i}`,
      state: TaskState.QUEUED,
      spec: { queue: "q", type: "t" },
      createTime: timestampFromMs(1e12 - i),
      updateTime: timestampFromMs(1e12 - i),
    })),
  truncated: false,
};
const burst = Array.from({ length: 500 }, (_, i) =>
  create(WatchTasksResponseSchema, {
    task: create(TaskSchema, {
      id: `t${i * 20}`,
      state: TaskState.RUNNING,
      spec: { queue: "q", type: "t" },
      createTime: timestampFromMs(1e12 - i * 20),
      updateTime: timestampFromMs(2e12),
    }),
  }));
Deno.bench("reduce 500 WatchTasks events into 10,000 tasks", { group: "live" }, () => {
  reduceTaskList(big, burst, { matches: () => true, order: newestCreatedFirst });
});

// --- Figures ---------------------------------------------------------------------------
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const round = (n: number) => Math.round(n * 100) / 100;

globalThis.addEventListener("unload", () => {
  screen.unmount();
  const interactions = Object.fromEntries([...samples].map(([name, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return [name, {
      frames: sorted.length,
      medianMs: round(percentile(sorted, 50)),
      p95Ms: round(percentile(sorted, 95)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(sorted.at(-1) ?? 0),
    }];
  }));
  const report = {
    date: new Date().toISOString(),
    machine: {
      nproc: navigator.hardwareConcurrency,
      os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
    },
    parameters: {
      tasks: TASKS,
      terminal: `${SIZE.columns}x${SIZE.rows}`,
      renderer:
        "ink 6.8.0 via ink-testing-library (every render writes a full frame), React production build",
      measured: "key press to the first frame showing its effect",
    },
    listAllTasksMs: round(listMs),
    interactions,
  };
  Deno.mkdirSync(`${ROOT}bench/results`, { recursive: true });
  Deno.writeTextFileSync(`${ROOT}bench/results/tui-frames.json`, JSON.stringify(report, null, 2) + "\n");
  const rows = Object.entries(interactions).map(([name, s]) =>
    `| ${name} | ${s.frames} | ${s.medianMs} | ${s.p95Ms} | ${s.p99Ms} | ${s.maxMs} |`
  );
  Deno.writeTextFileSync(
    `${ROOT}bench/results/tui-frames.md`,
    [
      `# TUI frame times with ${TASKS.toLocaleString("en")} tasks listed`,
      "",
      `${report.date} · ${report.machine.nproc} CPUs · ${report.machine.os} · Deno ${report.machine.deno}`,
      "",
      `Terminal ${report.parameters.terminal}; ${report.parameters.renderer}.`,
      "Each figure is the time from a key press to the first frame that shows its effect.",
      `Listing all ${
        TASKS.toLocaleString("en")
      } tasks over gRPC (10 pages of 1,000) up to the first full frame took`,
      `${report.listAllTasksMs} ms.`,
      "",
      "| interaction | frames | median ms | p95 ms | p99 ms | max ms |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
    ].join("\n"),
  );
  // No teardown beyond this: like bench/tags_bench.ts, the schema stays until the next run.
});
