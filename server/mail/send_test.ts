import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { EnvReader } from "../config.ts";
import { readMailConfig } from "./config.ts";
import { MailSendError, sendEmail } from "./send.ts";
import { decodeQuotedPrintable, startSmtpSink } from "./testing.ts";

Deno.test("readMailConfig puts the outbox under the data dir and checks the From address", () => {
  const ok = new EnvReader({});
  assert.equal(readMailConfig(ok, ".data/").outboxDir, ".data/outbox");
  assert.deepEqual(ok.problems, []);

  const bad = new EnvReader({ TASKMESH_MAIL_FROM: "nobody", SMTP_URL: "http://x" });
  readMailConfig(bad, ".data");
  assert.equal(bad.problems.length, 2);
});

Deno.test("sendEmail delivers over SMTP to a real server", async () => {
  const sink = await startSmtpSink();
  try {
    const mail = { smtpUrl: sink.url, from: "taskmesh <no-reply@example.com>", outboxDir: "/nonexistent" };
    const sent = await sendEmail({ mail }, {
      to: "ada@example.com",
      subject: "Hello",
      text: "A link: https://example.com/verify?token=abc",
    });
    assert.equal(sent.via, "smtp");
    const got = await sink.waitFor((m) => m.to.includes("ada@example.com"));
    assert.match(got.raw, /Subject: Hello/);
    assert.match(decodeQuotedPrintable(got.raw), /token=abc/);
  } finally {
    await sink.close();
  }
});

Deno.test("sendEmail reports a 5xx refusal as permanent", async () => {
  const sink = await startSmtpSink();
  try {
    sink.rejectWith(550);
    const mail = { smtpUrl: sink.url, from: "no-reply@example.com", outboxDir: "/nonexistent" };
    const error = await sendEmail({ mail }, { to: "bob@example.com", subject: "x", text: "y" }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof MailSendError);
    assert.equal(error.permanent, true);
    assert.equal(error.responseCode, 550);
  } finally {
    await sink.close();
  }
});

Deno.test("sendEmail writes an .eml file to the outbox without SMTP", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const clock = new ManualClock(Date.UTC(2026, 2, 3, 4, 5, 6));
    const sent = await sendEmail({
      mail: { from: "no-reply@example.com", outboxDir: `${dir}/outbox` },
      clock,
    }, {
      to: "carol@example.com",
      subject: "Reset",
      text: "plain",
      html: "<p>html</p>",
    });
    assert.equal(sent.via, "outbox");
    assert.ok(sent.path?.startsWith(`${dir}/outbox/2026-03-03T04-05-06-000Z-`));
    const raw = await Deno.readTextFile(sent.path!);
    assert.match(raw, /To: carol@example.com/);
    assert.match(raw, /Subject: Reset/);
    assert.match(raw, /text\/html/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
