/**
 * `deno task start`: the whole system on one machine — the server and one worker
 * process. With no DATABASE_URL or REDIS_URL it runs on embedded defaults (PGlite in
 * TASKMESH_DATA_DIR, an in-memory broker), so a newcomer needs nothing but Deno.
 */
import { createLocalWorkerKey } from "./auth/local_worker_key.ts";
import { ConfigError } from "./config.ts";
import { runServer, waitForSignal } from "./main.ts";
import { SERVICE_MODULES } from "./services.ts";

const WORKER = new URL("../worker/main.ts", import.meta.url).pathname;

let server;
try {
  server = await runServer(Deno.env.toObject());
} catch (error) {
  console.error(error instanceof ConfigError ? `taskmesh: ${error.message}` : error);
  Deno.exit(error instanceof ConfigError ? 2 : 1);
}

let worker: Deno.ChildProcess | undefined;
if (server.config.server.services.includes("tasks") && SERVICE_MODULES.tasks.register) {
  const apiKey = await createLocalWorkerKey(server.deps);
  worker = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, `--url=${server.url}`, "--queues=default,emails", "--concurrency=8"],
    env: { TASKMESH_API_KEY: apiKey },
    stdin: "null",
  }).spawn();
  console.error(`  worker    pid ${worker.pid}, queues default and emails, concurrency 8\n`);
}

const signal = await waitForSignal();
console.error(`taskmesh: ${signal} received, shutting down`);
if (worker) {
  // The worker drains first (finishes what it runs), then the server stops.
  try {
    worker.kill("SIGTERM");
  } catch { /* already gone */ }
  await worker.status;
}
await server.stop();
Deno.exit(0);
