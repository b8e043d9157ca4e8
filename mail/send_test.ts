import assert from "node:assert/strict";
import { mailConfigFromEnv } from "./config.ts";
import { MailSendError, sendEmail } from "./send.ts";
import { decodeQuotedPrintable, startSmtpSink } from "./testing.ts";

Deno.test("the mail configuration puts the outbox under the data dir and checks the From address", () => {
  const ok = mailConfigFromEnv({ TASKMESH_DATA_DIR: "/srv/tm/" });
  assert.deepEqual(ok, {
    mail: { smtpUrl: undefined, from: "taskmesh <no-reply@taskmesh.localhost>", outboxDir: "/srv/tm/outbox" },
    problems: [],
  });
  assert.equal(mailConfigFromEnv({}).mail.outboxDir, ".data/outbox");
  const smtp = mailConfigFromEnv({ SMTP_URL: "smtp://u:p@mail:25", TASKMESH_MAIL_OUTBOX_DIR: "/o" });
  assert.equal(smtp.mail.smtpUrl, "smtp://u:p@mail:25");
  assert.equal(smtp.mail.outboxDir, "/o");

  const bad = mailConfigFromEnv({ TASKMESH_MAIL_FROM: "nobody", SMTP_URL: "http://x" });
  assert.equal(bad.problems.length, 2);
  assert.match(bad.problems.join("\n"), /TASKMESH_MAIL_FROM must contain an email address/);
  assert.match(bad.problems.join("\n"), /SMTP_URL must use smtp: or smtps:/);
  const unparsable = mailConfigFromEnv({ SMTP_URL: "smtp//user:secret@host" });
  assert.doesNotMatch(unparsable.problems[0], /secret/);
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
    const clock = { now: () => Date.UTC(2026, 2, 3, 4, 5, 6) };
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

Deno.test("sendEmail reports a 4xx reply and an unreachable server as worth retrying", async () => {
  const sink = await startSmtpSink();
  try {
    sink.rejectWith(451);
    const mail = { smtpUrl: sink.url, from: "no-reply@example.com", outboxDir: "/nonexistent" };
    const busy = await sendEmail({ mail }, { to: "dora@example.com", subject: "x", text: "y" }).catch((e) =>
      e
    );
    assert.ok(busy instanceof MailSendError);
    assert.equal(busy.permanent, false);
    assert.equal(busy.responseCode, 451);
  } finally {
    await sink.close();
  }
  // The sink is closed: nothing listens on its port any more.
  const mail = { smtpUrl: sink.url, from: "no-reply@example.com", outboxDir: "/nonexistent" };
  const down = await sendEmail({ mail }, { to: "dora@example.com", subject: "x", text: "y" }).catch((e) => e);
  assert.ok(down instanceof MailSendError);
  assert.equal(down.permanent, false);
  assert.equal(down.responseCode, undefined);
  assert.match(down.message, /try again later/);
});

Deno.test("a message's own From overrides the configured one", async () => {
  const sink = await startSmtpSink();
  try {
    const mail = { smtpUrl: sink.url, from: "default@example.com", outboxDir: "/nonexistent" };
    await sendEmail({ mail }, {
      to: "eve@example.com",
      subject: "x",
      text: "y",
      from: "Ops <ops@example.com>",
    });
    const got = await sink.waitFor((m) => m.to.includes("eve@example.com"));
    assert.equal(got.from, "ops@example.com");
    assert.match(got.raw, /From: Ops <ops@example.com>/);
  } finally {
    await sink.close();
  }
});
