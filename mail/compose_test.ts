import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import MailComposer, { type MailComposerOptions } from "nodemailer/lib/mail-composer";
import { composeInline, composeMail } from "./compose.ts";

const DATE = new Date(Date.UTC(2026, 2, 3, 4, 5, 6));

/** The same tree written by composeInline and by nodemailer's own streaming build(). */
async function bothWays(
  data: MailComposerOptions,
): Promise<{ inline: Buffer | undefined; streamed: Buffer }> {
  const root = new MailComposer({ date: DATE, ...data }).compile();
  const inline = composeInline(root);
  const streamed = await root.build();
  return { inline, streamed };
}

// A seeded generator, so a failing case is the same on every run.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const PIECES = [
  "a",
  "word ",
  "Hello, world.",
  " ",
  "\t",
  "\n",
  "\r\n",
  "\r",
  ".",
  "\n.\n",
  "=",
  "=3D",
  "é",
  "ü",
  "€",
  "日本",
  "😀",
  "<p>",
  "https://example.com/unsubscribe?token=abc&x=1",
  "x".repeat(90),
  "y ".repeat(50),
];

function text(next: () => number, pieces: number): string {
  let out = "";
  for (let i = 0; i < pieces; i++) out += PIECES[Math.floor(next() * PIECES.length)];
  return out;
}

Deno.test("composeInline writes the bytes nodemailer's streaming build writes, for every message it takes", async () => {
  const next = random(20261204);
  let inlined = 0;
  let fellBack = 0;
  for (let i = 0; i < 400; i++) {
    const data: MailComposerOptions = {
      from: next() < 0.5 ? "taskmesh <no-reply@example.com>" : "Zoë Ops <ops@example.com>",
      to: `user${i}@example.org`,
      subject: text(next, 1 + Math.floor(next() * 6)),
      text: text(next, Math.floor(next() * 80)),
      ...(next() < 0.6 ? { html: `<p>${text(next, Math.floor(next() * 80))}</p>` } : {}),
      headers: {
        "Message-ID": `<m${i}@example.com>`,
        "List-Unsubscribe": `<https://example.com/unsubscribe?token=t${i}>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    };
    const { inline, streamed } = await bothWays(data);
    if (inline === undefined) {
      fellBack++;
      continue;
    }
    inlined++;
    assert.equal(
      inline.toString("latin1"),
      streamed.toString("latin1"),
      `message ${i}: ${JSON.stringify(data)}`,
    );
  }
  // Both paths were exercised: most mails go inline, the ones with blanks at the end or base64 do not.
  assert.ok(inlined > 200, `only ${inlined} of 400 went inline`);
  assert.ok(fellBack > 0, "no message took the streaming path");
});

Deno.test("composeInline agrees on the edge cases and leaves base64 and attachments to nodemailer", async () => {
  const cases: MailComposerOptions[] = [
    { from: "a@example.com", to: "b@example.com", subject: "7bit", text: "short ascii\n" },
    { from: "a@example.com", to: "b@example.com", subject: "empty", text: "" },
    { from: "a@example.com", to: "b@example.com", subject: "none" },
    { from: "a@example.com", to: "b@example.com", subject: "ends in CR", text: "line\r" },
    { from: "a@example.com", to: "b@example.com", subject: "no newline", text: "x".repeat(200) },
    { from: "a@example.com", to: "b@example.com", subject: "dots", text: ".\n..\n.x\n" },
    {
      from: "a@example.com",
      to: "b@example.com",
      subject: "Grüße",
      text: "Grüße aus Köln\n",
      html: "<b>Grüße</b>",
    },
  ];
  for (const data of cases) {
    const { inline, streamed } = await bothWays(data);
    assert.ok(inline, `${data.subject} should go inline`);
    assert.equal(inline.toString("latin1"), streamed.toString("latin1"), String(data.subject));
  }
  const streamedOnly: MailComposerOptions[] = [
    { from: "a@example.com", to: "b@example.com", subject: "buffer", text: Buffer.from("bytes é\n") },
    {
      from: "a@example.com",
      to: "b@example.com",
      subject: "trailing blank",
      text: "quoted-printable café, ending in blanks \t",
    },
    { from: "a@example.com", to: "b@example.com", subject: "base64", text: "日本語のテキスト".repeat(20) },
    { from: "a@example.com", to: "b@example.com", subject: "big", text: "é".repeat(40_000) },
    {
      from: "a@example.com",
      to: "b@example.com",
      subject: "attachment",
      text: "see attached",
      attachments: [{ filename: "a.txt", content: "hello" }],
    },
  ];
  for (const data of streamedOnly) {
    const { inline } = await bothWays(data);
    assert.equal(inline, undefined, `${data.subject} should be left to nodemailer`);
    // composeMail still builds it, with nodemailer's build()
    const composed = await composeMail({ date: DATE, ...data });
    assert.match(composed.raw.toString("latin1"), new RegExp(`Subject: ${data.subject}`));
  }
});

Deno.test("composeMail reports the message's own Message-ID and the envelope of its address headers", async () => {
  const composed = await composeMail({
    from: "Ops <ops@example.com>",
    to: "Ada <ada@example.com>, bob@example.com",
    subject: "x",
    text: "y",
    headers: { "Message-ID": "<given@example.com>" },
  });
  assert.equal(composed.messageId, "<given@example.com>");
  assert.deepEqual(composed.envelope, {
    from: "ops@example.com",
    to: ["ada@example.com", "bob@example.com"],
  });
  assert.match(composed.raw.toString("latin1"), /^Message-ID: <given@example.com>\r$/m);

  const generated = await composeMail({
    from: "ops@example.com",
    to: "ada@example.com",
    subject: "x",
    text: "y",
  });
  assert.match(generated.messageId, /^<[^<>@\s]+@example\.com>$/);
  assert.ok(generated.raw.toString("latin1").includes(`Message-ID: ${generated.messageId}\r\n`));
});
