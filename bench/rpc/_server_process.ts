/** Starting a server under test, waiting until it answers, and stopping it. */
import { createClient, type Transport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";

export interface ServerProcess {
  name: string;
  port: number;
  logFile: string;
  child: Deno.ChildProcess;
  /** Settles when the process exits, with its exit code. */
  exited: Promise<number>;
  /** The exit code once the process has exited. */
  exitCode?: number;
}

export interface StartOptions {
  name: string;
  port: number;
  /** Command and arguments, run as they are or under `taskset -c cpus`. */
  command: string[];
  env?: Record<string, string>;
  cpus?: string;
  /** Where stdout and stderr go, so a failed start can be explained. */
  logFile: string;
}

/** A port nobody listens on right now (the kernel picks it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const argv = options.cpus === undefined
    ? options.command
    : ["taskset", "-c", options.cpus, ...options.command];
  const log = await Deno.open(options.logFile, { write: true, create: true, truncate: true });
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams go to one file; the server may log a lot, and an unread pipe would stall it.
  const copies = [child.stdout, child.stderr].map((stream) =>
    stream.pipeTo(
      new WritableStream({ write: (chunk) => void log.writeSync(chunk) }),
    ).catch(() => {})
  );
  const exited = child.status.then(async (status) => {
    await Promise.all(copies);
    log.close();
    return status.code;
  });
  const server: ServerProcess = {
    name: options.name,
    port: options.port,
    logFile: options.logFile,
    child,
    exited,
  };
  exited.then((code) => server.exitCode = code);
  return server;
}

export async function logTail(path: string, lines = 30): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Polls `ready` until it resolves true, the process exits, or the time is up. Each failed
 * poll waits a short, fixed interval: this bounds the wait, it is not the synchronisation.
 */
export async function waitUntilReady(
  server: ServerProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== undefined) {
      throw new Error(
        `${server.name} exited with code ${server.exitCode} before it answered; its log ends:\n${await logTail(
          server.logFile,
        )}`,
      );
    }
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${server.name} did not answer within ${
      timeoutMs / 1000
    } s on port ${server.port}; its log ends:\n${await logTail(
      server.logFile,
    )}`,
  );
}

/** Waits until the server's grpc.health.v1 Health/Check answers SERVING over `transport`. */
export function waitUntilServing(
  server: ServerProcess,
  transport: Transport,
  timeoutMs = 90_000,
): Promise<void> {
  const health = createClient(Health, transport);
  return waitUntilReady(server, async () => {
    try {
      return (await health.check({}, { timeoutMs: 1000 })).status ===
        HealthCheckResponse_ServingStatus.SERVING;
    } catch {
      return false;
    }
  }, timeoutMs);
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
export async function stopServer(server: ServerProcess, graceMs = 5000): Promise<void> {
  try {
    server.child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), graceMs));
  const outcome = await Promise.race([server.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await server.exited;
  }
}
