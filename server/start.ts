/**
 * `deno task start`: the whole system on one machine — the server and one worker
 * process. With no DATABASE_URL or REDIS_URL it runs on embedded defaults (PGlite in
 * TASKMESH_DATA_DIR, an in-memory broker), so a newcomer needs nothing but Deno.
 *
 * On SIGTERM or SIGINT the worker drains first (finishes what it runs), then the server
 * stops. The drain is asked for over the worker's stream rather than by a signal: a
 * Ctrl-C in a terminal reaches the worker too (same process group), and a second
 * signal would make it stop at once and abandon its tasks. A second signal to this
 * process (not the copy of the first that `deno task` forwards) stops the worker at once.
 */
import { insertApiKey, revokeApiKey } from "./auth/api_key_queries.ts";
import { newApiKeySecret } from "./auth/api_keys.ts";
import { localWorkerKey } from "./auth/local_worker_key.ts";
import { ConfigError } from "./config.ts";
import { LOCAL_CLIENT_SCOPES, type LocalClient, localClientPath } from "./demo.ts";
import { type RunningServer, runServer } from "./main.ts";
import { StartupError } from "./storage.ts";
import { SERVICE_MODULES } from "./services.ts";
import { tasksOf } from "./runtimes.ts";
import { ensureWebBuild } from "./web/build.ts";
import type { WorkerSession } from "./tasks/worker_session.ts";

const WORKER = new URL("../worker/main.ts", import.meta.url).pathname;
/** How long the worker's running tasks get to finish at shutdown (the worker's own default). */
const WORKER_DRAIN_MS = 30_000;
/** A signal this soon after the first is the same one delivered twice, not a second one. */
const SAME_SIGNAL_MS = 500;
/** Past the drain deadline, a worker that still has not exited is killed. */
const WORKER_KILL_AFTER_MS = WORKER_DRAIN_MS + 10_000;

// The member web app at /: built here when missing or older than its sources (a second or so).
await ensureWebBuild().catch((error) =>
  console.error("taskmesh: the web app could not be built (RPCs still work):", error)
);

let server: RunningServer;
try {
  server = await runServer(Deno.env.toObject());
} catch (error) {
  const known = error instanceof ConfigError || error instanceof StartupError;
  console.error(known ? `taskmesh: ${error.message}` : error);
  Deno.exit(error instanceof ConfigError ? 2 : 1);
}

// From here on a signal is heard (and waits for the setup below) rather than ending the process.
const signalled = firstSignal();
let stopping = false;
let worker: { child: Deno.ChildProcess; id: string } | undefined;
let lastSession: WorkerSession | undefined;
let removeLocalClient = () => Promise.resolve();
if (server.config.server.services.includes("tasks") && SERVICE_MODULES.tasks.register) {
  // One key for every start, kept in the data directory (0600) and reused while it works.
  const { secret: apiKey } = await localWorkerKey({ ...server.deps, dataDir: server.config.server.dataDir });
  const id = `${Deno.hostname()}:local-worker:${Deno.pid}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      WORKER,
      `--url=${server.url}`,
      "--queues=default,emails,alerts",
      "--concurrency=8",
      `--worker-id=${id}`,
    ],
    env: { TASKMESH_API_KEY: apiKey },
    stdin: "null",
  }).spawn();
  worker = { child, id };
  // Remembered so shutdown knows a worker that has just closed its stream was draining (a
  // Ctrl-C reached it too) rather than cut off: that one is left to exit by itself.
  const runtime = tasksOf(server.runtimes);
  runtime.onWorkers(() => {
    const session = runtime.session(id);
    if (session) lastSession = session;
  });
  child.status.then(({ code }) => {
    if (!stopping) {
      console.error(
        `taskmesh: the worker exited with code ${code}: tasks wait until a worker connects ` +
          "(restart deno task start, or run deno task worker)",
      );
    }
  });
  console.error(`  worker    pid ${child.pid}, queues default, emails and alerts, concurrency 8`);
  if (!server.config.server.databaseUrl) {
    const path = await writeLocalClient(server);
    removeLocalClient = path.remove;
    const scopes = LOCAL_CLIENT_SCOPES.join(" and ");
    console.error(
      `  demo      deno task demo  (its key, scopes ${scopes}, is in ${path.path} until shutdown)`,
    );
  }
  console.error("");
}

const signal = await signalled;
stopping = true;
console.error(`taskmesh: ${signal} received, shutting down`);
let code = 0;
if (worker) code = await drainWorker(worker);
await removeLocalClient();
await server.stop();
Deno.exit(code);

/**
 * Resolves on the first SIGTERM or SIGINT. The listeners stay for good, so a signal
 * never finds none (and the default action, which would end the process mid-drain):
 * `deno task` forwards a terminal's Ctrl-C to this process, which had it from the
 * terminal too, so the same signal often arrives twice. A second one, later, stops
 * the worker at once.
 */
function firstSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    let firstAt: number | undefined;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        if (firstAt === undefined) {
          firstAt = Date.now();
          return resolve(signal);
        }
        if (Date.now() - firstAt < SAME_SIGNAL_MS) return;
        console.error("taskmesh: second signal: stopping the worker at once (the server requeues its tasks)");
        try {
          worker?.child.kill("SIGKILL");
        } catch { /* already gone */ }
      });
    }
  });
}

/**
 * Drains the worker over its stream and waits for it to exit. A worker that is not
 * connected gets SIGTERM instead, unless it closed its stream draining already.
 */
async function drainWorker({ child, id }: { child: Deno.ChildProcess; id: string }): Promise<number> {
  const session = tasksOf(server.runtimes).session(id);
  try {
    if (session) session.drain(WORKER_DRAIN_MS);
    else if (!lastSession?.draining) child.kill("SIGTERM");
  } catch { /* already gone */ }
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    console.error(
      `taskmesh: the worker did not exit ${WORKER_KILL_AFTER_MS / 1000}s after the drain: killing it`,
    );
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, WORKER_KILL_AFTER_MS);
  await child.status;
  clearTimeout(timer);
  return killed ? 1 : 0;
}

/**
 * Embedded mode only: a key for local clients (`deno task demo`, buf curl), written
 * where the embedded database already lives, so it exposes nothing that directory
 * does not; mode 0600, at most a day, revoked and removed at shutdown.
 */
async function writeLocalClient(
  server: RunningServer,
): Promise<{ path: string; remove: () => Promise<void> }> {
  const { sql, clock } = server.deps;
  const [admin] = await sql<{ id: string }[]>`
    select id from users where role = 'admin' and disabled_at is null order by created_at limit 1`;
  const { secret, prefix, hash } = await newApiKeySecret();
  const now = new Date(clock.now());
  const expiresAt = new Date(now.getTime() + 86_400_000);
  const key = await insertApiKey(sql, {
    id: crypto.randomUUID(),
    ownerId: admin.id,
    name: "local client (deno task start)",
    scopes: LOCAL_CLIENT_SCOPES,
    prefix,
    secretHash: hash,
    now,
    expiresAt,
  });
  const dir = server.config.server.dataDir;
  const path = localClientPath(dir);
  const content: LocalClient = {
    url: server.url,
    apiKey: secret,
    scopes: LOCAL_CLIENT_SCOPES,
    expiresAt: expiresAt.toISOString(),
  };
  // makeTempFile creates the file 0600; the rename makes it appear whole.
  const temp = await Deno.makeTempFile({ dir, prefix: ".local-client-" });
  await Deno.writeTextFile(temp, JSON.stringify(content, null, 2) + "\n");
  await Deno.rename(temp, path);
  return {
    path,
    async remove() {
      await Deno.remove(path).catch(() => {});
      await revokeApiKey(sql, key.id, new Date(clock.now())).catch((error) =>
        console.error("taskmesh: could not revoke the local client key:", error)
      );
    },
  };
}
