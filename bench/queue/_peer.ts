/**
 * What the Postgres peers' worker processes (graphile_worker.ts, pgboss_worker.ts) share
 * with the bench: the lines they print and how the bench starts one and waits for it.
 *
 * A peer worker prints `{"msg":"worker ready"}` once it runs, with --log-starts one
 * `{"time", "msg":"task started", "task_id"}` line per handler start (as taskmesh's and
 * BullMQ's workers do), and, after SIGTERM has drained it, one `{"msg":"window", ...}`
 * line: how many handlers finished, the first start and the last finish (its own clock,
 * ms). graphile-worker deletes a job once it completes, so its worker's own record is
 * the only one left; pg-boss keeps its jobs, and its side reads the table instead.
 */
import { type Child, spawnChild, stopChild } from "./_child.ts";
import { poll, type Window } from "./_system.ts";

const encoder = new TextEncoder();

/** One JSON line on stdout, written at once (the bench reads the start lines as they come). */
export function line(record: Record<string, unknown>): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(record) + "\n"));
}

/** Counts handler runs in a worker process and remembers the first start and the last finish. */
export class HandlerWindow {
  count = 0;
  firstStartMs = Infinity;
  lastFinishMs = 0;

  constructor(readonly workerId: string, readonly logStarts: boolean) {}

  started(taskId: string): void {
    const now = Date.now();
    if (now < this.firstStartMs) this.firstStartMs = now;
    if (this.logStarts) {
      line({
        time: new Date(now).toISOString(),
        msg: "task started",
        task_id: taskId,
        worker_id: this.workerId,
      });
    }
  }

  finished(): void {
    this.count++;
    this.lastFinishMs = Date.now();
  }

  print(): void {
    line({
      msg: "window",
      worker_id: this.workerId,
      count: this.count,
      first_start_ms: this.count ? this.firstStartMs : null,
      last_finish_ms: this.count ? this.lastFinishMs : null,
    });
  }
}

/** Runs `sleep` ({"ms": n}) or returns at once (`noop`), like taskmesh's built-in handlers. */
export async function runHandler(type: string, payload: unknown): Promise<void> {
  if (type !== "sleep") return;
  const ms = Number((payload as { ms?: unknown } | null)?.ms);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** On the first SIGTERM/SIGINT: `drain()`, print the window, exit 0; a second signal exits at once. */
export function onStopSignal(drain: () => Promise<void>, window: HandlerWindow): void {
  let signals = 0;
  const stop = () => {
    if (++signals > 1) Deno.exit(1);
    drain()
      .catch((error) => line({ level: "error", msg: "drain failed", error: String(error) }))
      .finally(() => {
        window.print();
        Deno.exit(0);
      });
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}

/** A peer worker process and the window it printed when it stopped (once it has). */
export interface PeerWorker {
  child: Child;
  window(): Window | undefined;
}

/** Spawns a peer worker process and resolves once it printed that it is ready. */
export async function spawnPeerWorker(name: string, argv: string[]): Promise<PeerWorker> {
  const child = spawnChild(name, argv, {});
  let ready = false;
  let window: Window | undefined;
  child.onLine((text) => {
    if (text.includes('"worker ready"')) ready = true;
    if (!text.includes('"window"')) return;
    try {
      const w = JSON.parse(text) as {
        count: number;
        first_start_ms: number | null;
        last_finish_ms: number | null;
      };
      window = {
        count: w.count,
        firstStartMs: w.first_start_ms ?? NaN,
        lastFinishMs: w.last_finish_ms ?? NaN,
      };
    } catch {
      // Not the line we print.
    }
  });
  try {
    await poll(
      () => {
        if (child.exitCode !== undefined) throw new Error(`exited with code ${child.exitCode}`);
        return Promise.resolve(ready);
      },
      60_000,
      `${name} to start`,
      20,
    );
  } catch (error) {
    await stopChild(child, 1000);
    throw new Error(`${(error as Error).message}; its output ends:\n${child.tail()}`);
  }
  return { child, window: () => window };
}
