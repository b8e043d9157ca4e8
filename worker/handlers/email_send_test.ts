import assert from "node:assert/strict";
import type { MailConfig } from "../../mail/mod.ts";
import { decodeQuotedPrintable, startSmtpSink } from "../../mail/testing.ts";
import { ManualClock } from "../clock.ts";
import { PermanentError, TaskAbortedError } from "../errors.ts";
import type { TaskContext } from "../handler.ts";
import { createMemoryLogger } from "../log.ts";
import { emailSend } from "./email_send.ts";
import { builtinHandlers } from "./mod.ts";

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function context(signal = new AbortController().signal, clock = new ManualClock()): TaskContext {
  return {
    taskId: "t1",
    attempt: 1,
    type: "email.send",
    queue: "emails",
    signal,
    deadline: undefined,
    progress: () => {},
    log: createMemoryLogger(),
    clock,
  };
}

/** What the handler threw (fails when it succeeds). */
async function thrown(work: unknown): Promise<Error & { code?: string }> {
  try {
    await work;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected the handler to fail, but it succeeded");
}

const FROM = "taskmesh <no-reply@example.com>";

Deno.test("email.send over SMTP", async (t) => {
  const sink = await startSmtpSink();
  const mail: MailConfig = { smtpUrl: sink.url, from: FROM, outboxDir: "/nonexistent" };
  const send = emailSend({ mail });
  try {
    await t.step("delivers the payload's mail to the SMTP server", async () => {
      const out = await send(
        bytes({
          to: "ada@example.com",
          subject: "Confirm your address",
          text: "Open https://example.com/verify?token=abc",
          html: "<p><a href='https://example.com/verify?token=abc'>Confirm</a></p>",
        }),
        context(),
      ) as { via: string; messageId: string };
      assert.equal(out.via, "smtp");
      assert.match(out.messageId, /@/);
      const got = await sink.waitFor((m) => m.to.includes("ada@example.com"));
      assert.equal(got.from, "no-reply@example.com");
      const body = decodeQuotedPrintable(got.raw);
      assert.match(body, /Subject: Confirm your address/);
      assert.match(body, /token=abc/);
      assert.match(body, /text\/html/);
    });

    await t.step("the payload's from and headers win over the configuration", async () => {
      await send(
        bytes({
          to: "bob@example.com",
          subject: "News",
          text: "hi",
          from: "News <news@example.com>",
          headers: { "List-Unsubscribe": "<https://example.com/u/1>" },
        }),
        context(),
      );
      const got = await sink.waitFor((m) => m.to.includes("bob@example.com"));
      assert.equal(got.from, "news@example.com");
      assert.match(got.raw, /List-Unsubscribe: <https:\/\/example.com\/u\/1>/);
    });

    await t.step("a 5xx refusal fails for good, with the reply code", async () => {
      sink.rejectWith(550);
      const error = await thrown(send(bytes({ to: "c@example.com", subject: "x", text: "y" }), context()));
      assert.ok(error instanceof PermanentError, String(error));
      assert.equal(error.code, "smtp_550");
      assert.match(error.message, /SMTP 550/);
    });

    await t.step("a 4xx reply is retried", async () => {
      sink.rejectWith(451);
      const error = await thrown(send(bytes({ to: "c@example.com", subject: "x", text: "y" }), context()));
      assert.ok(!(error instanceof PermanentError), String(error));
      assert.equal(error.code, "smtp_451");
      sink.rejectWith(undefined);
    });
  } finally {
    await sink.close();
  }

  await t.step("an unreachable SMTP server is retried", async () => {
    // The sink is closed: its port refuses connections now.
    const error = await thrown(send(bytes({ to: "d@example.com", subject: "x", text: "y" }), context()));
    assert.ok(!(error instanceof PermanentError), String(error));
    assert.equal(error.code, "smtp_unavailable");
  });
});

Deno.test("email.send stops waiting when its attempt is aborted", async () => {
  // A server that accepts the connection and never greets: the send hangs until aborted.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const send = emailSend({
    mail: { smtpUrl: `smtp://127.0.0.1:${listener.addr.port}`, from: FROM, outboxDir: "/nonexistent" },
  });
  const controller = new AbortController();
  const sending = send(bytes({ to: "e@example.com", subject: "x", text: "y" }), context(controller.signal));
  const conn = await accepted;
  controller.abort(new TaskAbortedError("cancelled", "cancelled by an operator"));
  const error = await thrown(sending);
  assert.ok(error instanceof TaskAbortedError);
  conn.close();
  listener.close();
});

Deno.test("email.send writes to the outbox without SMTP", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const send = builtinHandlers({ mail: { from: FROM, outboxDir: `${dir}/outbox` } })["email.send"];
    const clock = new ManualClock(Date.UTC(2026, 2, 3, 4, 5, 6));
    const out = await send(
      bytes({ to: "fay@example.com", subject: "Reset your password", text: "code 123" }),
      context(undefined, clock),
    ) as { via: string; path: string };
    assert.equal(out.via, "outbox");
    assert.ok(out.path.startsWith(`${dir}/outbox/2026-03-03T04-05-06-000Z-`), out.path);
    const raw = await Deno.readTextFile(out.path);
    assert.match(raw, /To: fay@example.com/);
    assert.match(raw, /From: taskmesh <no-reply@example.com>/);
    assert.match(raw, /Subject: Reset your password/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/outbox`)].map((e) => e.name), [out.path.split("/").pop()]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("email.send refuses a bad payload for good, naming the field", async () => {
  const send = emailSend({ mail: { from: FROM, outboxDir: "/nonexistent" } });
  const ok = { to: "g@example.com", subject: "s", text: "t" };
  const cases: [unknown, RegExp][] = [
    [null, /payload must be a JSON object/],
    [["g@example.com"], /payload must be a JSON object/],
    [{ subject: "s", text: "t" }, /payload\.to must be a string/],
    [{ ...ok, to: "nobody" }, /payload\.to must be an email address/],
    [{ ...ok, to: "g@example.com\r\nBcc: h@example.com" }, /payload\.to must be one line/],
    [{ ...ok, subject: 5 }, /payload\.subject must be a string/],
    [{ ...ok, subject: "  " }, /payload\.subject must not be empty/],
    [{ ...ok, text: undefined }, /payload\.text must be a string/],
    [{ ...ok, html: 1 }, /payload\.html must be a string when given/],
    [{ ...ok, from: "nobody" }, /payload\.from must contain an email address/],
    [{ ...ok, headers: [] }, /payload\.headers must be an object/],
    [{ ...ok, headers: { "Bad Name": "x" } }, /"Bad Name" is not a header name/],
    [{ ...ok, headers: { "X-A": 1 } }, /payload\.headers\.X-A must be a string/],
  ];
  for (const [payload, expected] of cases) {
    const error = await thrown(send(bytes(payload), context()));
    assert.ok(error instanceof PermanentError, `${JSON.stringify(payload)}: ${error}`);
    assert.equal(error.code, "bad_payload");
    assert.match(error.message, expected);
  }
  const notJson = await thrown(send(new TextEncoder().encode("to=g@example.com"), context()));
  assert.ok(notJson instanceof PermanentError);
  assert.equal(notJson.code, "bad_payload");
});

Deno.test("email.send fails for good on a sealed payload the server could not open", async () => {
  const send = emailSend({ mail: { from: FROM, outboxDir: "/nonexistent" } });
  const error = await thrown(send(bytes({ $sealed: crypto.randomUUID() }), context()));
  assert.ok(error instanceof PermanentError);
  assert.equal(error.code, "sealed_expired");
  assert.match(error.message, /sealed message .* expired/);
});
