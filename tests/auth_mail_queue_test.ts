/**
 * Auth's mails go through the task queue when the server runs the task runtime: a
 * sign-up becomes an `email.send` task in `emails` (in Postgres before anything is
 * sent), an SDK worker delivers it to a real SMTP server on loopback, and the task
 * succeeds. With the SMTP server down the attempt fails retryably and the task waits
 * for its retry: the mail arrives once the server is back. The server runs on a
 * manual clock, so retries are driven by moving time, not by waiting for it.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { decodeQuotedPrintable, startSmtpSink } from "../mail/testing.ts";
import { ManualClock } from "../server/clock.ts";
import type { TaskRecord } from "../server/tasks/model.ts";
import type { TasksRuntime } from "../server/tasks/runtime.ts";
import { tasksOf } from "../server/runtimes.ts";
import { startMailWorker } from "./_support/mail_worker.ts";
import { bearer } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

/** Every task change the runtime publishes, in order, and a way to wait for the next matching one. */
function recordTaskEvents(rt: TasksRuntime) {
  const seen: TaskRecord[] = [];
  const waiters = new Set<() => void>();
  const off = rt.onTask((task) => {
    seen.push(task);
    for (const wake of [...waiters]) wake();
  });
  /** The first event at index ≥ `from` for which `match` holds, with its index. */
  const after = async (from: number, match: (t: TaskRecord) => boolean) => {
    while (true) {
      const index = seen.findIndex((t, i) => i >= from && match(t));
      if (index >= 0) return { task: seen[index], index };
      await new Promise<void>((resolve) => {
        const wake = () => (waiters.delete(wake), resolve());
        waiters.add(wake);
      });
    }
  };
  return { seen, after, off };
}

const decoder = new TextDecoder();
const payloadOf = (t: { payload: Uint8Array }) => JSON.parse(decoder.decode(t.payload));
const FROM = "taskmesh <no-reply@example.com>";

Deno.test("auth mails go through the emails queue and survive an SMTP outage", async (t) => {
  const sink = await startSmtpSink();
  const port = Number(new URL(sink.url).port);
  // Started at the real time: the worker measures attempt deadlines on its own clock.
  const clock = new ManualClock(Date.now());
  const server = await startTestServer({
    redis: true,
    clock,
    env: { TASKMESH_MAIL_FROM: FROM, TASKMESH_PUBLIC_URL: "http://members.example.test" },
  });
  const rt = tasksOf(server.app.runtimes);
  const events = recordTaskEvents(rt);
  const mailer = await startMailWorker(server, {
    mail: { smtpUrl: sink.url, from: "worker <not-this@example.com>", outboxDir: "/nonexistent" },
  });
  let revived: Awaited<ReturnType<typeof startSmtpSink>> | undefined;
  try {
    const auth = createClient(AuthService, server.connect());
    const tasks = createClient(TaskService, server.grpc());
    const admin = bearer(mailer.admin!);
    const email = `queued-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = "my own long passphrase";

    await t.step("sign-up → an email.send task → the mail at the SMTP server → SUCCEEDED", async () => {
      await auth.register({ email, password, displayName: "Quinn Queue" });
      // Enqueued after Register answered (the answer never waits on mail): wait for it.
      const { task: created } = await events.after(
        0,
        (task) => task.type === "email.send",
      );

      const stored = (await tasks.getTask({ id: created.id }, admin)).task!;
      assert.equal(stored.spec?.queue, "emails");
      assert.equal(stored.spec?.type, "email.send");
      assert.equal(stored.spec?.maxAttempts, 5);
      assert.match(stored.spec?.idempotencyKey ?? "", /^auth-mail:[0-9a-f]{64}$/);
      // The mail carries a token: the task names it sealed, and only the worker's Assign opens it.
      const payload = payloadOf(stored.spec!);
      assert.deepEqual(Object.keys(payload), ["$sealed"]);
      const listed = await tasks.listTasks({ queue: "emails", type: "email.send" }, admin);
      assert.ok(listed.tasks.some((task) => task.id === created.id), "ListTasks finds it");

      const mail = await sink.waitFor((m) => m.to.includes(email));
      assert.equal(mail.from, "no-reply@example.com", "the server's From travels with the mail");
      assert.match(mail.raw, /Subject: Confirm your taskmesh email address/);
      const token = /verify-email\?token=([A-Za-z0-9_-]{43})/.exec(decodeQuotedPrintable(mail.raw))?.[1];
      assert.ok(token, "the mail carries the verification link");

      await events.after(0, (task) => task.id === created.id && task.state === "succeeded");
      const done = (await tasks.getTask({ id: created.id }, admin)).task!;
      assert.equal(done.state, TaskState.SUCCEEDED);
      assert.equal(done.attempts.length, 1);
      assert.equal(done.attempts[0].workerId, mailer.worker.id);
      assert.equal(JSON.parse(decoder.decode(done.output)).via, "smtp");

      assert.equal((await auth.verifyEmail({ token })).user?.emailVerified, true);
    });

    await t.step("with the SMTP server down the mail is retried, not lost", async () => {
      await sink.close(); // nothing listens on the port now
      const from = events.seen.length;
      await auth.requestPasswordReset({ email });
      const { task: created } = await events.after(
        from,
        (task) => task.type === "email.send",
      );
      const id = created.id;

      // The first attempt fails because nothing answers, and the task waits for a retry.
      const { task: failed } = await events.after(from, (task) => task.id === id && task.lastError !== null);
      assert.equal(failed.lastError?.code, "smtp_unavailable");
      assert.equal(failed.lastError?.retryable, true);
      assert.equal(failed.state, "scheduled");
      const waiting = (await tasks.getTask({ id }, admin)).task!;
      assert.notEqual(waiting.state, TaskState.DEAD);
      assert.equal(waiting.attempts[0].error?.code, "smtp_unavailable");

      revived = await startSmtpSink({ port });
      const arrived = revived.waitFor((m) => m.to.includes(email));
      // Move the server's clock to each retry's time until the task is done. A retry whose
      // jittered delay was ~0 may already have run (and failed) before the sink came back;
      // the loop just drives the next one.
      let cursor = events.seen.length;
      let current = (await rt.get(id))!.task;
      while (current.state !== "succeeded") {
        assert.notEqual(current.state, "dead", "the task must not run out of attempts here");
        if (current.state === "scheduled") {
          clock.set(Math.max(clock.now(), current.runAt));
          await rt.tick();
        }
        const next = await events.after(cursor, (task) => task.id === id);
        cursor = next.index + 1;
        current = next.task;
      }

      const mail = await arrived;
      assert.equal(mail.from, "no-reply@example.com");
      assert.match(decodeQuotedPrintable(mail.raw), /reset-password\?token=/);
      const done = (await tasks.getTask({ id }, admin)).task!;
      assert.equal(done.state, TaskState.SUCCEEDED);
      assert.ok(done.attempts.length >= 2, `attempts: ${done.attempts.length}`);
      assert.equal(done.attempts[0].error?.code, "smtp_unavailable");
      assert.equal(revived.received.filter((m) => m.to.includes(email)).length, 1, "delivered once");
    });
  } finally {
    events.off();
    await mailer.stop();
    await server.close();
    await sink.close().catch(() => {});
    await revived?.close();
  }
});
