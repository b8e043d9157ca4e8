/**
 * The worker process: `deno task worker --queues=emails,default --concurrency=N`.
 * It runs the built-in handlers until drained (SIGTERM, SIGINT, or the server's
 * Drain), then exits 0; a second signal stops it at once. Bad flags or mail settings
 * exit 2; a server that refuses the worker (bad key, bad Hello) exits 1.
 *
 * The API key comes from `--api-key-file`, `TASKMESH_API_KEY_FILE` or `TASKMESH_API_KEY`
 * (`--api-key` works too, but a command line is visible to others and `deno task` echoes it).
 *
 * `email.send` reads the server's mail variables (SMTP_URL, TASKMESH_MAIL_FROM,
 * TASKMESH_MAIL_OUTBOX_DIR, TASKMESH_DATA_DIR), so one environment configures both.
 */
import { mailConfigFromEnv } from "../mail/mod.ts";
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
  const { mail: configured, problems } = mailConfigFromEnv(env);
  if (problems.length > 0) {
    console.error(`worker: invalid mail configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 2;
  }
  const mail = { ...configured, smtpUrl: pooledSmtpUrl(configured.smtpUrl, flags.concurrency) };
  const log = createLogger({ level: flags.logLevel });
  if (flags.apiKeyFrom === "flag") {
    log.warn(
      "--api-key puts the key on the command line, where every user of this machine can read it (ps) " +
        "and deno task prints it: use TASKMESH_API_KEY or --api-key-file instead",
    );
  }
  log.info(
    "email.send configured",
    mail.smtpUrl === undefined
      ? { via: "outbox", outbox_dir: mail.outboxDir }
      : { via: "smtp", smtp_host: new URL(mail.smtpUrl).host },
  );
  const worker = createWorker({
    url: flags.url,
    apiKey: flags.apiKey,
    queues: flags.queues,
    concurrency: flags.concurrency,
    workerId: flags.workerId,
    handlers: builtinHandlers({ mail }),
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

/** Mails per pooled SMTP connection before the pool replaces it (pooledSmtpUrl). */
export const POOLED_MAX_MESSAGES = 1000;

/**
 * The worker keeps SMTP connections open (nodemailer's pool, up to one per slot, at most 50)
 * unless SMTP_URL says `pool=` itself: a connection per mail was what bounded a campaign
 * (632 → ~900 mails/s in bench:campaign --quick). The process ends with Deno.exit, so idle
 * pooled sockets never hold it.
 *
 * Each connection sends up to 1,000 mails before it is replaced (`maxMessages`, unless
 * SMTP_URL sets it or names `pool=`): with nodemailer's default of 100, a campaign opened,
 * greeted and closed a connection every 100 mails per slot though no server asked for it.
 * A server with a lower limit of its own either closes the connection (the pool opens another)
 * or refuses with a 4xx, which the task retries with its backoff: `?maxMessages=N` matches it.
 */
export function pooledSmtpUrl(smtpUrl: string | undefined, concurrency: number): string | undefined {
  if (smtpUrl === undefined) return undefined;
  const url = new URL(smtpUrl);
  if (url.searchParams.has("pool")) return smtpUrl;
  url.searchParams.set("pool", "true");
  url.searchParams.set("maxConnections", String(Math.min(Math.max(concurrency, 1), 50)));
  if (!url.searchParams.has("maxMessages")) url.searchParams.set("maxMessages", String(POOLED_MAX_MESSAGES));
  return url.toString();
}

if (import.meta.main) Deno.exit(await main(Deno.args, Deno.env.toObject()));
