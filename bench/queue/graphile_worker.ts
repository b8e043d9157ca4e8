/**
 * The graphile-worker side's worker process for `deno task bench:queue`: one runner with
 * the settings graphile-worker's performance page gives for its "quick stats"
 * (https://worker.graphile.org/docs/performance): a local queue of 500 jobs fetched per
 * round trip, completions and failures batched (delay 0), a pool of 25 connections,
 * prepared statements (its default); `concurrentJobs` is the concurrency asked for. Its
 * logger prints warnings and errors only (the default one prints a line per job). The
 * same two handlers as taskmesh's worker: `noop` and `sleep` (payload `{"ms": n}`).
 *
 * Usage: deno run -A bench/queue/graphile_worker.ts --database-url=URL --concurrency=N
 *   --worker-id=ID [--log-starts]
 * Prints the lines described in _peer.ts. SIGTERM stops the runner gracefully (running
 * jobs finish and their completions are written), prints the window and exits 0.
 */
import { Logger, run, type Task } from "graphile-worker";
import { flagValue, hasFlag } from "../rpc/_flags.ts";
import { HandlerWindow, line, onStopSignal, runHandler } from "./_peer.ts";

/** graphile-worker's "quick stats" settings, apart from concurrentJobs. */
export const GRAPHILE_SETTINGS = {
  maxPoolSize: 25,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
  preparedStatements: true,
} as const;

function required(name: string): string {
  const value = flagValue(Deno.args, name);
  if (!value) {
    console.error(`graphile_worker: --${name} is required`);
    Deno.exit(2);
  }
  return value;
}

if (import.meta.main) {
  const connectionString = required("database-url");
  const concurrency = Number(required("concurrency"));
  const workerId = required("worker-id");
  const window = new HandlerWindow(workerId, hasFlag(Deno.args, "log-starts"));

  const handler = (type: string): Task => async (payload, helpers) => {
    window.started(helpers.job.id);
    await runHandler(type, payload);
    window.finished();
  };
  const runner = await run({
    taskList: { noop: handler("noop"), sleep: handler("sleep") },
    noHandleSignals: true,
    preset: {
      worker: {
        connectionString,
        concurrentJobs: concurrency,
        ...GRAPHILE_SETTINGS,
        // Its default logger prints a line per job at info level; warnings and errors only.
        logger: new Logger(() => (level, message) => {
          if (level === "error" || level === "warning") line({ level, msg: message });
        }),
      },
    },
  });
  runner.events.on(
    "job:error",
    ({ error }) => line({ level: "error", msg: "job failed", error: String(error) }),
  );
  onStopSignal(() => runner.stop(), window);
  line({ msg: "worker ready", worker_id: workerId });
  await runner.promise;
}
