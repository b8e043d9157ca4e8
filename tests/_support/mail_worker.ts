/**
 * An in-process worker, built with the SDK, that runs the real `email.send` handler on
 * the `emails` queue of a test server: auth's mails reach a test's SMTP sink (or
 * outbox) through the task queue, as they do in production.
 */
import type { MailConfig } from "../../mail/mod.ts";
import { emailSend } from "../../worker/handlers/mod.ts";
import { createMemoryLogger, createWorker, type MemoryLogger, type Worker } from "../../worker/mod.ts";
import { credentials } from "./raw_worker.ts";
import type { TestServer } from "./server.ts";

export interface MailWorkerOptions {
  /** Where `email.send` sends: usually `{ smtpUrl: sink.url, … }`. */
  mail: MailConfig;
  /** A `worker`-scope API key; made (with an admin) when absent. */
  apiKey?: string;
  concurrency?: number;
}

export interface MailWorker {
  worker: Worker;
  log: MemoryLogger;
  /** An admin's access token on the server (when this helper made the key), for TaskService calls. */
  admin?: string;
  /** Drains the worker (running mails finish and report) and waits until it has stopped. */
  stop(): Promise<void>;
}

/** Starts the worker and resolves once the server has welcomed it. */
export async function startMailWorker(server: TestServer, options: MailWorkerOptions): Promise<MailWorker> {
  let apiKey = options.apiKey;
  let admin: string | undefined;
  if (!apiKey) ({ admin, workerKey: apiKey } = await credentials(server));
  const log = createMemoryLogger("info");
  const worker = createWorker({
    url: server.url,
    apiKey,
    queues: ["emails"],
    concurrency: options.concurrency ?? 4,
    workerId: `mail-worker-${crypto.randomUUID().slice(0, 8)}`,
    handlers: { "email.send": emailSend({ mail: options.mail }) },
    log,
  });
  const running = worker.start();
  // A worker the server refuses ends start() with the reason: fail with it rather than wait forever.
  await Promise.race([
    log.waitFor("connected"),
    running.then(() => {
      throw new Error("the mail worker stopped before the server welcomed it");
    }),
  ]);
  return {
    worker,
    log,
    admin,
    async stop() {
      await worker.drain();
      await running;
    },
  };
}
