/**
 * Auth's mails through the task queue. When this process runs the task runtime, a
 * verification or reset mail becomes an `email.send` task in the `emails` queue, so a
 * mail server that is down delays the mail (retries with backoff) instead of losing
 * it, and the answer to Register never waits on SMTP. Without the task runtime in the
 * process, auth sends directly (runtime.ts).
 */
import type { EmailMessage } from "../../mail/mod.ts";
import type { Deps } from "../deps.ts";
import { enqueueTasks } from "../tasks/enqueue.ts";
import type { NewTask, TaskRecord } from "../tasks/model.ts";
import { tasksRuntimeFor } from "../tasks/setup.ts";

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

/**
 * The task for one mail. The idempotency key hashes recipient, subject and text (which
 * carries the token), so a repeated hook call for the same mail enqueues it once while
 * every new token gets its own mail.
 */
export async function mailTask(message: EmailMessage, from: string, now: number): Promise<NewTask> {
  const payload = {
    to: message.to,
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
    // The server's configured sender, so a mail reads the same whichever process sends it.
    from: message.from ?? from,
    ...(message.headers ? { headers: message.headers } : {}),
  };
  return {
    queue: MAIL_QUEUE,
    type: MAIL_TASK_TYPE,
    payload: new TextEncoder().encode(JSON.stringify(payload)),
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

/** The auth runtime's `send` hook that enqueues instead of sending. */
export function enqueueAuthMail(deps: Deps): (message: EmailMessage) => Promise<TaskRecord> {
  return async (message) => {
    const rt = tasksRuntimeFor(deps);
    const task = await mailTask(message, deps.config.mail.from, rt.clock.now());
    const { tasks } = await enqueueTasks(rt, [task]);
    return tasks[0];
  };
}
