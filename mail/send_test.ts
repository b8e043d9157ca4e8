import assert from "node:assert/strict";
import { createTransport } from "nodemailer";
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

/** A received mail with what differs between two composes of the same message masked: Date and boundaries. */
function masked(raw: string): string {
  let out = raw.replace(/^Date: .*\r\n/m, "Date: <date>\r\n");
  for (const [, boundary] of raw.matchAll(/boundary="([^"]+)"/g)) {
    out = out.replaceAll(boundary, "<boundary>");
  }
  return out;
}

Deno.test("sendEmail delivers over SMTP the same message nodemailer's own streaming send delivers", async () => {
  const sink = await startSmtpSink();
  try {
    const mail = { smtpUrl: sink.url, from: "taskmesh <no-reply@example.com>", outboxDir: "/nonexistent" };
    const message = {
      to: "Zoë <zoe@example.com>",
      subject: "Grüße: our news",
      from: "Team Ops <ops@example.com>",
      text: "Hi Zoë,\n\n.a line starting with a dot\n" + "long line ".repeat(20) +
        "\nhttps://example.com/u?token=abc\n",
      html: `<p>Hi Zoë,</p><p>${
        "long html ".repeat(20)
      }</p><a href="https://example.com/u?token=abc">unsubscribe</a>`,
      headers: {
        "Message-ID": "<campaign-1.delivery-7@example.com>",
        "List-Unsubscribe": "<https://example.com/unsubscribe?token=abc>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    };
    const sent = await sendEmail({ mail }, message);
    assert.deepEqual(sent, { via: "smtp", messageId: "<campaign-1.delivery-7@example.com>" });
    const composed = await sink.waitFor((m) => m.to.includes("zoe@example.com"));

    // The same message as sendEmail sent it before it composed in memory: nodemailer streaming the tree.
    const streaming = createTransport(sink.url);
    await streaming.sendMail({ ...message, to: "Zoë <zoe2@example.com>" });
    streaming.close();
    const streamed = await sink.waitFor((m) => m.to.includes("zoe2@example.com"));

    assert.equal(composed.from, "ops@example.com");
    assert.deepEqual(composed.to, ["zoe@example.com"]);
    assert.equal(masked(composed.raw), masked(streamed.raw).replace("zoe2@example.com", "zoe@example.com"));
    assert.match(composed.raw, /^Message-ID: <campaign-1\.delivery-7@example\.com>\r$/m);
    assert.match(composed.raw, /^List-Unsubscribe: <https:\/\/example\.com\/unsubscribe\?token=abc>\r$/m);
    assert.match(composed.raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    assert.match(composed.raw, /^Content-Type: multipart\/alternative;/m);
    // The dot the line starts with was stuffed on the wire and unstuffed by the server.
    assert.match(composed.raw, /\r\n\.a line starting with a dot\r\n/);

    // Without a Message-ID of its own, the one nodemailer generated is the one reported.
    const plain = await sendEmail({ mail }, { to: "fay@example.com", subject: "x", text: "y" });
    const got = await sink.waitFor((m) => m.to.includes("fay@example.com"));
    assert.match(plain.messageId, /^<.+@example\.com>$/);
    assert.ok(got.raw.includes(`\r\nMessage-ID: ${plain.messageId}\r\n`), got.raw);
  } finally {
    await sink.close();
  }
});
