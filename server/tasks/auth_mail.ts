/**
 * Auth's mails through the task queue. When this process runs the task runtime, a
 * verification or reset mail becomes an `email.send` task in the `emails` queue, so a
 * mail server that is down delays the mail (retries with backoff) instead of losing
 * it, and the answer to Register never waits on SMTP. Without the task runtime in the
 * process, auth sends directly (runtime.ts).
 *
 * Every one of these mails carries a secret (a verification or reset token), and a task
 * payload is readable by every viewer and `tasks:read` key: the mail is sealed
 * (server/tasks/sealed_payloads.ts) and the task's payload only names it. The worker
 * holding the task's lease receives the mail itself in its Assign.
 */
import type { EmailMessage } from "../../mail/mod.ts";
import type { MailQueue } from "../auth/mail_queue.ts";
import type { Deps } from "../deps.ts";
import { sealedReference } from "./sealed_payloads.ts";
import { activeTraceparent } from "../observability/tracing.ts";
import type { NewTask } from "./model.ts";
import type { TasksRuntime } from "./runtime.ts";

export const MAIL_QUEUE = "emails";
export const MAIL_TASK_TYPE = "email.send";
const MAX_ATTEMPTS = 5;
// 5 s, 20 s, 80 s, 320 s: about seven minutes for a mail server to come back.
const BACKOFF = { initialMs: 5_000, maxMs: 600_000, multiplier: 4 };
// A send is one SMTP conversation; a minute is plenty, and a hung server frees the slot.
const TIMEOUT_MS = 60_000;
// People wait for these mails: ahead of bulk mail (campaigns) in the same queue.
const PRIORITY = 5;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the worker's `email.send` handler receives: the mail as JSON. */
export function mailBody(message: EmailMessage, from: string): Uint8Array {
  const body = {
    to: message.to,
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
    // The server's configured sender, so a mail reads the same whichever process sends it.
    from: message.from ?? from,
    ...(message.headers ? { headers: message.headers } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * The task for one mail; its payload, the reference to the sealed mail, is set as it is
 * sealed (`NewTask.sealed`, stored with the task by the engine).
 * The idempotency key hashes recipient, subject and text (which carries the token), so a
 * repeated hook call for the same mail enqueues it once while every new token gets its
 * own mail; a hash of a random token tells nothing about it.
 */
export async function mailTask(message: EmailMessage, now: number): Promise<NewTask> {
  return {
    queue: MAIL_QUEUE,
    type: MAIL_TASK_TYPE,
    payload: new Uint8Array(),
    priority: PRIORITY,
    runAt: now,
    maxAttempts: MAX_ATTEMPTS,
    backoff: BACKOFF,
    timeoutMs: TIMEOUT_MS,
    idempotencyKey: `auth-mail:${await sha256Hex(`${message.to}\n${message.subject}\n${message.text}`)}`,
    labels: { source: "auth" },
    dependsOn: [],
    dependsOnBatchIndex: [],
    condition: "on_success",
  };
}

/**
 * Auth's mail port (server/auth/mail_queue.ts) over the engine: seals the mail and enqueues it instead of sending.
 * The seal lasts as long as the longest token a mail carries: past that the mail is
 * worthless, and an attempt that late fails for good.
 */
export function taskMailQueue(rt: TasksRuntime, deps: Pick<Deps, "config" | "sql">): MailQueue {
  const { auth, mail } = deps.config;
  const sealForMs = Math.max(auth.verificationTtlSeconds, auth.resetTtlSeconds) * 1000;
  const sendSealed = async (message: EmailMessage) => {
    const now = rt.clock.now();
    const task = await mailTask(message, now);
    const id = crypto.randomUUID();
    // The engine stores the task and its sealed body in one transaction, bound to each other.
    const { tasks } = await rt.enqueue([{
      ...task,
      payload: sealedReference(id),
      sealed: { id, body: mailBody(message, mail.from), expiresAt: now + sealForMs },
      // The mail's handler span joins the trace of the call that asked for it (Register, ResetPassword…).
      traceparent: activeTraceparent(),
    }]);
    return tasks[0];
  };
  return { sendSealed };
}
