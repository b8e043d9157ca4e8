/**
 * Worker processes under test: spawned, their output read line by line (the latency and
 * requeue phases read "task started" lines from it), stopped or killed.
 */

export interface Child {
  name: string;
  pid: number;
  /** Settles with the exit code once the process has exited. */
  exited: Promise<number>;
  exitCode?: number;
  /** Called with every line the process writes (stdout and stderr), from now on. */
  onLine(listener: (line: string) => void): () => void;
  /** The last lines it wrote, to explain a failure. */
  tail(): string;
  kill(signal: Deno.Signal): void;
}

const TAIL_LINES = 40;

export function spawnChild(name: string, argv: string[], env: Record<string, string>): Child {
  const process = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const listeners = new Set<(line: string) => void>();
  const recent: string[] = [];
  // Both pipes are always read: an unread pipe would stall the process once it fills.
  const reads = [process.stdout, process.stderr].map(async (stream) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        recent.push(line);
        if (recent.length > TAIL_LINES) recent.shift();
        for (const listener of listeners) listener(line);
      }
    }
  });
  const child: Child = {
    name,
    pid: process.pid,
    exited: process.status.then(async (status) => {
      await Promise.allSettled(reads);
      child.exitCode = status.code;
      return status.code;
    }),
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    tail: () => recent.join("\n"),
    kill(signal) {
      try {
        process.kill(signal);
      } catch {
        // Already gone.
      }
    },
  };
  return child;
}

/** SIGTERM (both workers drain, then exit), then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== undefined) return;
  child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), graceMs));
  const outcome = await Promise.race([child.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    child.kill("SIGKILL");
    await child.exited;
  }
}

/**
 * Handler starts a worker reports: task id → the worker's own clock (ms) when its handler
 * began. Both workers print one JSON line `{"time": ISO, "msg": "task started", "task_id"}`
 * per start (taskmesh's at --log-level=debug, bench/queue/bullmq_worker.ts with --log-starts).
 */
export class StartLog {
  /** Every start seen, per task id, oldest first. */
  readonly starts = new Map<string, number[]>();
  #waiters = new Set<() => void>();
  readonly #off: () => void;

  constructor(child: Child) {
    this.#off = child.onLine((line) => {
      if (!line.includes('"task started"')) return;
      let record: { time?: string; task_id?: string };
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      if (!record.task_id || !record.time) return;
      const list = this.starts.get(record.task_id) ?? [];
      list.push(Date.parse(record.time));
      this.starts.set(record.task_id, list);
      for (const wake of this.#waiters) wake();
    });
  }

  get count(): number {
    let n = 0;
    for (const list of this.starts.values()) n += list.length;
    return n;
  }

  /** Resolves once `done()` holds; rejects after `timeoutMs`. */
  async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      let wake!: () => void;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.#waiters.add(wake);
        timer = setTimeout(resolve, Math.min(left, 1000));
      });
      clearTimeout(timer);
      this.#waiters.delete(wake);
    }
  }

  close(): void {
    this.#off();
  }
}
