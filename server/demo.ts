/**
 * `deno task demo`: shows a newcomer work flowing through a running taskmesh. It
 * enqueues a mix of tasks on the `default` queue — quick, slow with progress, delayed,
 * failing for good, failing and retried, a prioritised batch, an idempotent duplicate —
 * then follows WatchTasks and prints one line per change until they have all ended.
 *
 * It is a plain client: it talks to the server only through the generated clients.
 * Credentials come from --api-key or TASKMESH_API_KEY (scopes tasks:enqueue and
 * tasks:read); without either, from the key `deno task start` writes on embedded
 * defaults to TASKMESH_DATA_DIR/local-client.json (see LocalClient).
 */
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type Task,
  TaskService,
  type TaskSpecSchema,
  TaskState,
  type WatchTasksResponse,
} from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { showDemoFires, startDemoSchedule } from "./demo_schedule.ts";

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8080";
export const LOCAL_CLIENT_FILE = "local-client.json";
/** What the local key may do: enough for the demo and for reading tasks, nothing more. */
export const LOCAL_CLIENT_SCOPES = ["tasks:enqueue", "tasks:read", "tasks:manage"];
const QUEUE = "default";
const DEFAULT_FOLLOW_MS = 60_000;
/** With no event for this long, the demo re-reads its tasks in case the stream missed one. */
const QUIET_RESYNC_MS = 2000;

/**
 * The key `deno task start` writes (mode 0600) in embedded mode, where the data dir
 * already holds the whole database; it is revoked and removed when start stops.
 */
export interface LocalClient {
  url: string;
  apiKey: string;
  scopes: string[];
  expiresAt: string;
}

export function localClientPath(dataDir: string): string {
  return join(dataDir, LOCAL_CLIENT_FILE);
}

export const USAGE = `usage: deno task demo [flags]

  --url=URL          the taskmesh server (default: $TASKMESH_SERVER_URL, else the URL in
                     the local key file, else ${DEFAULT_SERVER_URL})
  --api-key=KEY      an API key with scopes tasks:enqueue, tasks:read and tasks:manage (default:
                     $TASKMESH_API_KEY, else the key deno task start wrote to
                     $TASKMESH_DATA_DIR/${LOCAL_CLIENT_FILE}, data dir .data by default)
  --follow=DURATION  stop following after this long, e.g. 10s, 500ms, 2m (default: 60s);
                     it stops sooner once every demo task has ended
  --help             print this and exit

Enqueues demo tasks on the default queue, which the worker of deno task start serves.`;

type Flags = { url?: string; apiKey?: string; followMs: number };

export function parseDemoFlags(args: string[]): { kind: "run"; flags: Flags } | { kind: "help" } | {
  kind: "error";
  message: string;
} {
  const flags: Flags = { followMs: DEFAULT_FOLLOW_MS };
  const seen = new Set<string>();
  for (const arg of args) {
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    const match = /^--(url|api-key|follow)=(.+)$/s.exec(arg);
    if (!match) {
      return {
        kind: "error",
        message: `unexpected argument ${JSON.stringify(arg)}: flags look like --name=value`,
      };
    }
    const [, name, value] = match;
    if (seen.has(name)) return { kind: "error", message: `--${name} is given twice` };
    seen.add(name);
    if (name === "url") flags.url = value;
    else if (name === "api-key") flags.apiKey = value;
    else {
      const d = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
      const ms = d ? Number(d[1]) * ({ ms: 1, s: 1000, m: 60_000 }[d[2] ?? "s"] ?? 1000) : NaN;
      if (!(ms > 0 && ms <= 3600_000)) {
        return {
          kind: "error",
          message: `--follow must be a duration up to 1h such as 10s or 500ms, not ${value}`,
        };
      }
      flags.followMs = ms;
    }
  }
  return { kind: "run", flags };
}

type Spec = MessageInitShape<typeof TaskSpecSchema>;
interface Planned {
  name: string;
  note: string;
  spec: Spec;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** What the demo enqueues, one Enqueue each, then `batch` as one EnqueueBatch. */
export function demoPlan(runId: string, now: number): { single: Planned[]; batch: Planned[] } {
  const labels = (name: string) => ({ demo: runId, step: name });
  const task = (name: string, note: string, spec: Spec): Planned => ({
    name,
    note,
    spec: { queue: QUEUE, labels: labels(name), ...spec },
  });
  const once = task("once", "idempotency key: enqueued twice below", {
    type: "noop",
    idempotencyKey: `demo-${runId}-once`,
  });
  return {
    single: [
      task("quick-1", "noop: succeeds at once", { type: "noop" }),
      task("quick-2", "noop: succeeds at once", { type: "noop" }),
      task("quick-3", "noop: succeeds at once", { type: "noop" }),
      task("slow", "sleep 3s: slow work that reports progress", {
        type: "sleep",
        payload: json({ ms: 3000 }),
      }),
      task("delayed", "delay 3s: scheduled, then queued", { type: "noop", delay: durationFromMs(3000) }),
      task("run-at", "run_time now+5s: runs at a set time", {
        type: "noop",
        runTime: timestampFromMs(now + 5000),
      }),
      task("bad-payload", "sleep with a bad payload: permanent error, dead at once", {
        type: "sleep",
        payload: json({ ms: "soon" }),
        maxAttempts: 3,
      }),
      task("timeout-retry", "sleep 5s with a 1s timeout: retryable error, retried once, then dead", {
        type: "sleep",
        payload: json({ ms: 5000 }),
        timeout: durationFromMs(1000),
        maxAttempts: 2,
        backoff: { initialDelay: durationFromMs(500), maxDelay: durationFromMs(1000) },
      }),
      once,
      { ...once, name: "once (again)", note: "same idempotency key" },
    ],
    // Enqueued last but at priority 9: they take the worker's free slots before the 0s.
    batch: [
      ...[1, 2, 3, 4, 5].map((i) => task(`batch-p0-${i}`, "batch, sleep 1s, priority 0", { type: "sleep" })),
      ...[1, 2, 3, 4, 5].map((i) => task(`batch-p9-${i}`, "batch, sleep 1s, priority 9", { type: "sleep" })),
    ].map((p) => ({
      ...p,
      spec: { ...p.spec, payload: json({ ms: 1000 }), priority: p.name.startsWith("batch-p9") ? 9 : 0 },
    })),
  };
}

/** `TaskState.SUCCEEDED` → "succeeded". */
const stateName = (state: TaskState) => TaskState[state]?.toLowerCase() ?? String(state);
const FINAL = new Set([TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED]);

interface Tracked {
  name: string;
  state: TaskState;
  at: number;
  progress: string;
}

/** Resolves the server URL and API key, or says what is missing. */
async function credentials(flags: Flags, env: Record<string, string | undefined>) {
  let local: LocalClient | undefined;
  const path = localClientPath(env.TASKMESH_DATA_DIR || ".data");
  try {
    local = JSON.parse(await Deno.readTextFile(path));
  } catch {
    // No file (connected mode, or start not running): a key must be given.
  }
  // An empty variable (as .env.example leaves it) counts as unset.
  const url = flags.url ?? (env.TASKMESH_SERVER_URL || local?.url || DEFAULT_SERVER_URL);
  let apiKey = flags.apiKey ?? env.TASKMESH_API_KEY;
  if (!apiKey && local && local.url === url && Date.parse(local.expiresAt) > Date.now()) {
    apiKey = local.apiKey;
  }
  if (!apiKey) {
    return {
      error: `no API key for ${url}: pass --api-key or set TASKMESH_API_KEY (scopes tasks:enqueue and ` +
        `tasks:read); deno task start on embedded defaults writes one to ${path}` +
        (local ? ` (the one there is for ${local.url}${local.url === url ? " and has expired" : ""})` : ""),
    };
  }
  return { url, apiKey };
}

function explain(error: unknown, url: string): string {
  if (!(error instanceof ConnectError)) return error instanceof Error ? error.message : String(error);
  const e = error;
  switch (e.code) {
    case Code.Unavailable:
      return `cannot reach the taskmesh server at ${url} (${e.rawMessage}): start it with deno task start, or pass --url`;
    case Code.Unauthenticated:
      return `the server refused the API key (${e.rawMessage}): pass a valid one with --api-key`;
    case Code.PermissionDenied:
      return `the API key may not do this (${e.rawMessage}): it needs scopes tasks:enqueue, tasks:read and tasks:manage`;
    default:
      return `${Code[e.code]}: ${e.rawMessage}`;
  }
}

export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const parsed = parseDemoFlags(args);
  if (parsed.kind === "help") return (console.log(USAGE), 0);
  if (parsed.kind === "error") {
    return (console.error(`demo: ${parsed.message}\nrun with --help to see every flag`), 2);
  }
  const { flags } = parsed;
  const creds = await credentials(flags, env);
  if ("error" in creds) return (console.error(`demo: ${creds.error}`), 2);
  const { url, apiKey } = creds;
  try {
    new URL(url);
  } catch {
    return (console.error(`demo: --url: ${JSON.stringify(url)} is not a URL`), 2);
  }
  const auth: Interceptor =
    (next) => (req) => (req.header.set("authorization", `Bearer ${apiKey}`), next(req));
  const transport = createGrpcTransport({ baseUrl: url, interceptors: [auth] });
  const tasks = createClient(TaskService, transport);
  const workers = createClient(WorkerService, transport);
  const started = Date.now();
  const runId = crypto.randomUUID().slice(0, 8);
  const watchAbort = new AbortController();
  try {
    return await run();
  } catch (error) {
    console.error(`demo: ${explain(error, url)}`);
    return 1;
  } finally {
    watchAbort.abort();
  }

  async function run(): Promise<number> {
    const serving = (await workers.listWorkers({ queue: QUEUE })).workers;
    console.log(`taskmesh demo ${runId} → ${url}`);
    console.log(
      serving.length
        ? `workers serving ${QUEUE}: ${
          serving.map((w) => `${w.id} (concurrency ${w.concurrency})`).join(", ")
        }`
        : `no worker serves the ${QUEUE} queue yet: the tasks wait until one connects ` +
          `(deno task worker --queues=${QUEUE})`,
    );

    // Watch before enqueueing, so the first changes are not missed; events wait until ids are known.
    const events: WatchTasksResponse[] = [];
    let wake: (() => void) | undefined;
    let watchError: unknown;
    const watching = (async () => {
      for await (const event of tasks.watchTasks({ queue: QUEUE }, { signal: watchAbort.signal })) {
        events.push(event);
        wake?.();
      }
      throw new Error("the server ended the WatchTasks stream: is it shutting down?");
    })().catch((error) => {
      if (!watchAbort.signal.aborted) watchError = error;
      wake?.();
    });

    const tracked = new Map<string, Tracked>();
    const plan = demoPlan(runId, Date.now());
    const rows: string[][] = [];
    const track = (p: Planned, task: Task, duplicate: boolean) => {
      if (!tracked.has(task.id)) {
        tracked.set(task.id, { name: p.name, state: task.state, at: updated(task), progress: "" });
      }
      rows.push([
        p.name,
        p.spec.type ?? "",
        String(p.spec.priority ?? 0),
        task.id.slice(0, 8),
        duplicate ? "duplicate" : stateName(task.state),
        duplicate ? `${p.note}: the first task comes back, nothing new is queued` : p.note,
      ]);
    };
    for (const p of plan.single) {
      const { task, duplicate } = await tasks.enqueue({ task: p.spec });
      track(p, task!, duplicate);
    }
    const batch = await tasks.enqueueBatch({ tasks: plan.batch.map((p) => p.spec) });
    plan.batch.forEach((p, i) => track(p, batch.tasks[i], batch.duplicates[i]));

    console.log(`\nenqueued ${tracked.size} tasks on queue ${QUEUE}, labelled demo=${runId}:\n`);
    printTable([["name", "type", "prio", "id", "state", "what it shows"], ...rows]);
    const schedule = await startDemoSchedule(tasks, runId, QUEUE);
    if ("id" in schedule) {
      console.log(
        `\nand a schedule, ${schedule.name}: ${schedule.description}, five ticks (its fires at the end)`,
      );
    }

    const deadline = started + flags.followMs;
    console.log(
      `\nfollowing WatchTasks (one line per change; until every demo task ends, at most ` +
        `${(flags.followMs / 1000).toFixed(0)}s):\n`,
    );
    const observe = (task: Task | undefined, fromWatch: boolean) => {
      const t = task && tracked.get(task.id);
      if (!t || !task) return;
      const at = updated(task);
      if (at < t.at) return;
      const say = (what: string, text: string) =>
        console.log(
          `${`+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(8)}  ${t.name.padEnd(14)} ${
            what.padEnd(22)
          } ${text}`.trimEnd(),
        );
      // The stream is in order; a re-read changes the state only when it is newer than what was seen.
      if (task.state !== t.state && (fromWatch || at > t.at)) {
        const from = stateName(t.state);
        Object.assign(t, { state: task.state, at, progress: "" });
        say(`${from} → ${stateName(task.state)}`, detail(task));
      }
      const progress = task.state === TaskState.RUNNING && task.state === t.state && task.progress
        ? `${task.progress.percent}% ${task.progress.message}`
        : "";
      if (progress && progress !== t.progress) say("progress", t.progress = progress);
    };
    const resync = async () => {
      const page = await tasks.listTasks({ queue: QUEUE, labels: { demo: runId }, pageSize: 1000 });
      for (const task of page.tasks.toReversed()) observe(task, false);
    };
    const unfinished = () => [...tracked.values()].filter((t) => !FINAL.has(t.state));

    let resynced = false;
    while (unfinished().length > 0 && Date.now() < deadline && !watchError) {
      const event = events.shift();
      if (event?.overflow) await resync();
      else if (event) observe(event.task, true);
      else if (!resynced) {
        // Caught up with what happened while enqueueing: fill in anything the stream missed.
        resynced = true;
        await resync();
      } else {
        const woken = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), Math.min(QUIET_RESYNC_MS, deadline - Date.now()));
          wake = () => (clearTimeout(timer), resolve(true));
        });
        wake = undefined;
        if (!woken) await resync();
      }
    }
    watchAbort.abort();
    await watching;
    if (watchError) throw watchError;

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const counts = new Map<string, number>();
    for (const t of tracked.values()) {
      counts.set(stateName(t.state), (counts.get(stateName(t.state)) ?? 0) + 1);
    }
    const summary = [...counts].map(([state, n]) => `${n} ${state}`).join(", ");
    const left = unfinished();
    console.log(
      left.length === 0
        ? `\nall ${tracked.size} demo tasks ended after ${seconds}s: ${summary}.`
        : `\nstopped following after ${seconds}s: ${summary}; still unfinished: ${
          left.map((t) => t.name).join(", ")
        }.`,
    );
    await showDemoFires(tasks, schedule, Math.max(deadline, Date.now() + 10_000));
    console.log(`
see them again (buf curl, with your key):
  ListTasks        -d '{"queue":"${QUEUE}","labels":{"demo":"${runId}"}}'  ${url}/taskmesh.tasks.v1.TaskService/ListTasks
  ListDeadLetters  -d '{"queue":"${QUEUE}"}'  ${url}/taskmesh.tasks.v1.TaskService/ListDeadLetters`);
    return 0;
  }
}

function updated(task: Task): number {
  return task.updateTime ? timestampMs(task.updateTime) : 0;
}

function detail(task: Task): string {
  const attempt = `attempt ${task.attemptCount} of ${task.spec?.maxAttempts ?? "?"}`;
  const error = task.lastError ? `${task.lastError.code || "error"}: ${task.lastError.message}` : "";
  switch (task.state) {
    case TaskState.RUNNING:
      return attempt;
    case TaskState.SCHEDULED: {
      const wait = task.runTime
        ? `runs in ${((timestampMs(task.runTime) - Date.now()) / 1000).toFixed(1)}s`
        : "";
      return task.lastError ? `${error} (retryable, ${attempt}): ${wait}` : wait;
    }
    case TaskState.FAILED:
      return `${error} (${task.lastError?.retryable ? "retryable" : "permanent"}, ${attempt})`;
    case TaskState.DEAD:
      return `${error} (after ${task.attemptCount} attempt${task.attemptCount === 1 ? "" : "s"})`;
    case TaskState.SUCCEEDED: {
      const output = new TextDecoder().decode(task.output);
      return output ? `output ${output.length > 60 ? `${output.slice(0, 60)}…` : output}` : "";
    }
    case TaskState.CANCELLED:
      return task.cancelReason;
    default:
      return "";
  }
}

function printTable(rows: string[][]) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) {
    console.log(`  ${row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()}`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args, Deno.env.toObject()));
