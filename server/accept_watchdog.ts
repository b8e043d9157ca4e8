/**
 * Keeps the listening socket accepting after the process ran out of file descriptors.
 *
 * Deno 2.9's node:net listener stops polling for new connections once accept() fails with
 * EMFILE, and nothing wakes it again: measured, 300 idle connections against `ulimit -n 256`
 * left the process alive but deaf for good, with no event and no log. Re-registering the
 * listener (`handle.listen()` on an already listening handle only marks it ready) makes it
 * accept whatever waited in the kernel's backlog. The watchdog does that every tick, which
 * costs nothing when all is well, and reports each time the file table is found full.
 */
import type net from "node:net";
import type { Logger } from "./log.ts";
import { LogThrottle } from "./log_throttle.ts";
import type { Counter } from "./observability/metrics.ts";

export interface AcceptWatchdog {
  stop(): void;
}

interface ListeningHandle {
  listen?: (backlog: number) => number;
}

/** The soft limit on open files, from /proc (Linux); undefined elsewhere. */
function openFileLimit(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n").find((l) =>
      l.startsWith("Max open files")
    );
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process is at its open-file limit: listing its descriptors fails with EMFILE, or fills the table. */
function atFileLimit(limit: number | undefined): boolean | undefined {
  try {
    let open = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) open++;
    // The listing itself holds one descriptor.
    return limit !== undefined && open >= limit - 1;
  } catch (error) {
    if (/too many open files/i.test(String(error))) return true;
    return undefined;
  }
}

export function startAcceptWatchdog(
  server: net.Server,
  options: { intervalMs: number; log: Logger; exhausted: Counter },
): AcceptWatchdog {
  const limit = openFileLimit();
  const throttle = new LogThrottle(30_000);
  let exhausted = false;
  const tick = () => {
    const full = atFileLimit(limit);
    if (full && !exhausted) {
      exhausted = true;
      options.exhausted.inc();
      throttle.hit((occurrences) =>
        options.log.warn("open-file limit reached: new connections wait until descriptors are freed", {
          limit,
          episodes_since_last_line: occurrences,
          hint: "raise the process's open-file limit (ulimit -n) or lower TASKMESH_MAX_CONNECTIONS",
        })
      );
    } else if (full === false && exhausted) {
      exhausted = false;
      options.log.info("descriptors free again: accepting connections", { limit });
    }
    const handle = (server as unknown as { _handle?: ListeningHandle })._handle;
    if (!full && typeof handle?.listen === "function") handle.listen(511);
  };
  const timer = setInterval(tick, options.intervalMs);
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}
