/**
 * The worker process: `deno task worker --queues=emails,default --concurrency=N`.
 * It runs the built-in handlers until drained (SIGTERM, SIGINT, or the server's
 * Drain), then exits 0; a second signal stops it at once. Bad flags exit 2; a server
 * that refuses the worker (bad key, bad Hello) exits 1.
 */
import { parseFlags, USAGE } from "./_flags.ts";
import { builtinHandlers } from "./handlers/mod.ts";
import { createLogger } from "./log.ts";
import { createWorker } from "./worker.ts";

export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const parsed = parseFlags(args, env);
  if (parsed.kind === "help") {
    console.log(USAGE);
    return 0;
  }
  if (parsed.kind === "error") {
    console.error(`worker: ${parsed.message}\nrun with --help to see every flag`);
    return 2;
  }
  const { flags } = parsed;
  const log = createLogger({ level: flags.logLevel });
  const worker = createWorker({
    url: flags.url,
    apiKey: flags.apiKey,
    queues: flags.queues,
    concurrency: flags.concurrency,
    workerId: flags.workerId,
    handlers: builtinHandlers(),
    log,
  });

  let signals = 0;
  const onSignal = (signal: Deno.Signal) => () => {
    signals++;
    if (signals === 1) {
      log.info("draining: finishing running tasks (send the signal again to stop at once)", { signal });
      void worker.drain();
    } else {
      log.warn("stopping at once: running tasks are abandoned and the server requeues them", { signal });
      void worker.stop();
    }
  };
  const listeners: [Deno.Signal, () => void][] = [["SIGTERM", onSignal("SIGTERM")], [
    "SIGINT",
    onSignal("SIGINT"),
  ]];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  try {
    await worker.start();
    return 0;
  } catch (error) {
    log.error("worker failed", { error });
    return 1;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args, Deno.env.toObject()));
