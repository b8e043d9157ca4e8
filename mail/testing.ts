/**
 * A real SMTP server on loopback for tests: it accepts every message and lets a test
 * wait for the one it expects, instead of mocking nodemailer.
 */
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message, headers and body, as the server received it. */
  raw: string;
}

export interface SmtpSink {
  /** smtp://127.0.0.1:<port>, ready for SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /** Resolves with the first mail (already received or still to come) for which `match` holds. */
  waitFor(match: (mail: ReceivedMail) => boolean): Promise<ReceivedMail>;
  /** Makes the next DATA commands answer with this SMTP code (e.g. 550), for failure tests. */
  rejectWith(code: number | undefined): void;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** Listen on this port (default: a free one), e.g. to bring a sink back where it was. */
  port?: number;
  /**
   * The SMTP code to refuse a message with (e.g. 451 or 550), or undefined to accept it;
   * asked for every message, with its recipients. rejectWith, when set, wins.
   */
  answer?: (to: string[]) => number | undefined;
}

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const waiters: { match: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void }[] = [];
  let rejectCode: number | undefined;

  const server = new SMTPServer({
    authOptional: true,
    // Plain text on loopback: STARTTLS would need a certificate and tests nothing of ours.
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      stream.on("end", () => {
        const code = rejectCode ?? options.answer?.(session.envelope.rcptTo.map((r) => r.address));
        if (code !== undefined) {
          const error = Object.assign(new Error("rejected by the test sink"), { responseCode: code });
          return callback(error);
        }
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: new TextDecoder().decode(concat(chunks)),
        };
        received.push(mail);
        for (const waiter of [...waiters]) {
          if (waiter.match(mail)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(mail);
          }
        }
        callback();
      });
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      const address = server.server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
  // A client killed mid-transaction (a SIGKILLed worker) resets its socket, which smtp-server re-emits
  // on the server: without a listener the second such reset would be an uncaught error in the test.
  server.on("error", () => {});

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    waitFor(match) {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    rejectWith(code) {
      rejectCode = code;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Undoes quoted-printable soft line breaks and escapes, so a test can find a link in a mail body. */
export function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r?\n/g, "").replace(
    /=([0-9A-F]{2})/g,
    (_, hex) => String.fromCharCode(parseInt(hex, 16)),
  );
}
