/**
 * A worker process built with the SDK whose one handler, `count`, records each execution
 * (task id, attempt, worker id) in the `executions` table of the test's own schema as it
 * starts (then waits the payload's `ms`, if any, and succeeds), so a test counts what really ran rather than what the server says. The table has
 * no unique key on purpose: a task run twice shows as two rows.
 *
 * Run as a script by `spawnCountingWorker`; it reconnects quickly (backoff capped at 1 s)
 * so a restarted server gets its workers back within a second or so.
 */
import { connectPostgres, type Sql } from "../../server/db/postgres.ts";
import { createLogger, createWorker, json } from "../../worker/mod.ts";

/** Creates the table the handler writes to, in the schema `sql` is confined to. */
export async function createExecutionsTable(sql: Sql): Promise<void> {
  await sql`
    create table executions (
      task_id uuid not null,
      attempt integer not null,
      worker_id text not null,
      at timestamptz not null default clock_timestamp()
    )`;
}

export interface CountingWorkerOptions {
  url: string;
  apiKey: string;
  /** A Postgres URL whose search_path is the test's schema (TestDatabase.url). */
  databaseUrl: string;
  workerId: string;
  queue: string;
  concurrency: number;
}

export function spawnCountingWorker(options: CountingWorkerOptions): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname],
    env: {
      TASKMESH_SERVER_URL: options.url,
      TASKMESH_API_KEY: options.apiKey,
      DATABASE_URL: options.databaseUrl,
      WORKER_ID: options.workerId,
      QUEUE: options.queue,
      CONCURRENCY: String(options.concurrency),
    },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

if (import.meta.main) {
  const env = (name: string) => {
    const value = Deno.env.get(name);
    if (!value) throw new Error(`counting worker: ${name} is not set`);
    return value;
  };
  const workerId = env("WORKER_ID");
  const sql = connectPostgres(env("DATABASE_URL"), { max: 8 });
  const worker = createWorker({
    url: env("TASKMESH_SERVER_URL"),
    apiKey: env("TASKMESH_API_KEY"),
    queues: [env("QUEUE")],
    concurrency: Number(env("CONCURRENCY")),
    workerId,
    backoff: { initialMs: 100, maxMs: 1000 },
    log: createLogger({ level: "error" }),
    handlers: {
      // Recorded as it starts, so a run that is aborted later still counts as a run.
      count: async (payload, ctx) => {
        await sql`insert into executions (task_id, attempt, worker_id)
                  values (${ctx.taskId}, ${ctx.attempt}, ${workerId})`;
        const { ms } = json<{ ms?: number }>(payload);
        if (ms) await ctx.clock.sleep(ms, ctx.signal);
      },
    },
  });
  await worker.start();
  await sql.end();
}
