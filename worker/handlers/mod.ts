/**
 * The handlers every taskmesh worker process ships with.
 *
 * `email.send` (nodemailer over SMTP, or the outbox folder) joins them with the mail
 * work of the task runtime; it is not here yet.
 */
import type { Handlers } from "../handler.ts";
import { noop } from "./noop.ts";
import { sleep } from "./sleep.ts";

export { noop } from "./noop.ts";
export { sleep } from "./sleep.ts";

/** The built-in handlers by task type, for `deno task worker`. */
export function builtinHandlers(): Handlers {
  return { noop, sleep };
}
