/**
 * Composes a message into one buffer with nodemailer's MailComposer, for sendEmail to hand
 * the SMTP transport whole (`raw`). Streamed from the MIME tree instead, every header block,
 * boundary and encoded body line became a socket write of its own (a syscall each in Deno's
 * node:net), and each node's content went through a PassThrough, an encoder stream and a
 * pipeline: most of the worker's CPU per mail in a campaign.
 *
 * The tree is nodemailer's (MailComposer.compile: the headers, their encoding, the
 * boundaries, the Message-ID and Date) and so is the body encoding (its quoted-printable
 * encoder); what this module does without streams is the walk MimeNode.stream makes:
 * headers, a blank line, the content, then each child between boundary lines. It takes
 * that path only where its bytes are the stream's by construction (string content, 7bit or
 * quoted-printable under 64 KiB without trailing blanks, no transforms); anything else
 * (base64, Buffer content, attachments from files or URLs, streams) is built by nodemailer's
 * own `build()`. compose_test.ts checks both agree byte for byte.
 */
import { Buffer } from "node:buffer";
import MailComposer, { type MailComposerOptions } from "nodemailer/lib/mail-composer";
import type MimeNode from "nodemailer/lib/mime-node";
import { encode as qpEncode, wrap as qpWrap } from "nodemailer/lib/qp";

export interface ComposedMail {
  /** The message as it goes out: headers, blank line, body, ending in CRLF. */
  raw: Buffer;
  /** The root's Message-ID header, angle brackets included, as nodemailer reports it. */
  messageId: string;
  /** MAIL FROM and RCPT TO, as nodemailer derives them from the address headers. */
  envelope: { from: string | false; to: string[] };
}

/** The fields of a MimeNode that its d.ts leaves out; read only to decide on the fast path. */
interface MimeNodeInternals {
  _raw?: unknown;
  _transforms?: unknown[];
  _processFuncs?: unknown[];
}

/** Where nodemailer's quoted-printable encoder starts slicing its input (qp ENCODE_SLICE_SIZE). */
const QP_SLICE_BYTES = 64 * 1024;

export async function composeMail(data: MailComposerOptions): Promise<ComposedMail> {
  const root = new MailComposer(data).compile();
  const messageId = root.messageId();
  const envelope = root.getEnvelope();
  const raw = composeInline(root) ?? await root.build();
  return { raw, messageId, envelope: { from: envelope.from, to: envelope.to } };
}

/**
 * Whether this node and all below it can be written without streams with the stream's
 * bytes: string content (sendEmail's text and html) that passes as is, or is
 * quoted-printable that the encoder takes as one slice and that ends in no space or tab
 * (the encoder holds those back and encodes them apart).
 */
function inlineable(node: MimeNode): boolean {
  const internals = node as unknown as MimeNodeInternals;
  if (internals._raw) return false;
  const content = node.content;
  if (content) {
    if (typeof content !== "string") return false;
    const encoding = node.getTransferEncoding();
    if (encoding === "base64") return false;
    if (encoding === "quoted-printable") {
      const last = content.charCodeAt(content.length - 1);
      if (Buffer.byteLength(content, "utf8") > QP_SLICE_BYTES || last === 0x20 || last === 0x09) return false;
    }
  }
  return node.childNodes.every(inlineable);
}

/**
 * The root written out as MimeNode.stream + LastNewline would, or undefined where that
 * needs the streams (exported for compose_test.ts). One string, encoded once: the stream
 * writes the same strings as UTF-8 and the quoted-printable lines as ASCII.
 */
export function composeInline(root: MimeNode): Buffer | undefined {
  const internals = root as unknown as MimeNodeInternals;
  if (internals._transforms?.length || internals._processFuncs?.length || root.newline) return undefined;
  if (!inlineable(root)) return undefined;
  let message = nodeText(root);
  // LastNewline: the message ends with a line break
  if (message.endsWith("\r")) message += "\n";
  else if (!message.endsWith("\n")) message += "\r\n";
  return Buffer.from(message, "utf8");
}

function nodeText(node: MimeNode): string {
  // buildHeaders first: it settles the transfer encoding and the multipart boundary
  let text = node.buildHeaders() + "\r\n\r\n";
  const content = node.content as string | undefined;
  if (content) {
    text += node.getTransferEncoding() === "quoted-printable" ? qpWrap(qpEncode(content), 76) : content;
  }
  if (!node.multipart) return text;
  node.childNodes.forEach((child, i) => {
    text += `${i > 0 ? "\r\n" : ""}--${node.boundary}\r\n` + nodeText(child);
  });
  return text + `\r\n--${node.boundary}--\r\n`;
}
