/**
 * Runs `server/main.ts` as a real child process and reads its JSON log lines, so
 * tests can wait for "listening" (no sleeps) and send it real signals.
 */
export interface ServerProcess {
  url: string;
  child: Deno.ChildProcess;
  /** JSON log lines seen so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the exit status and everything written to stderr. */
  exited: Promise<{ code: number; stderr: string }>;
  /** Resolves with the first log line matching, waiting for more output as needed. */
  waitForLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

const MAIN = new URL("../../server/main.ts", import.meta.url).pathname;

/** `script` is server/main.ts unless given (e.g. server/start.ts, the whole system). */
export function spawnServer(env: Record<string, string>, script: string = MAIN): {
  child: Deno.ChildProcess;
  exited: Promise<{ code: number; stderr: string }>;
  lines: Record<string, unknown>[];
  waitForLine: ServerProcess["waitForLine"];
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    env: { TASKMESH_HOST: "127.0.0.1", TASKMESH_PORT: "0", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<
    { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }
  > = [];
  let stdoutDone!: () => void;
  const stdoutClosed = new Promise<void>((r) => stdoutDone = r);
  (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const raw = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(raw);
        } catch {
          continue;
        }
        lines.push(line);
        for (const w of waiters.splice(0)) {
          if (w.match(line)) w.resolve(line);
          else waiters.push(w);
        }
      }
    }
    stdoutDone();
  })();
  const stderrText = new Response(child.stderr).text();
  const exited = (async () => {
    const status = await child.status;
    await stdoutClosed;
    return { code: status.code, stderr: await stderrText };
  })();
  const waitForLine = (match: (l: Record<string, unknown>) => boolean) => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<Record<string, unknown>>((resolve) => waiters.push({ match, resolve })),
      exited.then(({ code, stderr }) => {
        throw new Error(`server exited with ${code} before the expected log line:\n${stderr}`);
      }),
    ]);
  };
  return { child, exited, lines, waitForLine };
}

/** Starts the server process and waits until it listens. */
export async function startServerProcess(
  env: Record<string, string>,
  script?: string,
): Promise<ServerProcess> {
  const spawned = spawnServer(env, script);
  const listening = await spawned.waitForLine((l) => l.msg === "listening");
  return { ...spawned, url: String(listening.url) };
}
