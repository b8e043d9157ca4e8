/**
 * Keeps a client's GOAWAY frames away from the runtime's HTTP/2 engine.
 *
 * Under Deno 2.9 (denoland/deno#36788), nghttp2 can abort the whole process on an assertion
 * (`find_stream_on_goaway_func: stream->closed_next == NULL`) while it handles a GOAWAY that a
 * client sends after a burst of concurrent calls. Nothing in JavaScript runs before the abort, so
 * the only way to keep the process alive is for nghttp2 never to read that frame.
 *
 * A client's GOAWAY only tells the server that the client will open no more streams: streams it
 * already opened still get their answers, and the client closes the connection when it is done.
 * Dropping the frame changes none of that; the end of the connection (FIN or reset) that follows
 * still closes the session. GOAWAY frames the server sends are untouched.
 */
import { Buffer } from "node:buffer";
import type net from "node:net";

/** The client connection preface: 24 bytes before the first frame. */
const PREFACE_LENGTH = 24;
const FRAME_HEADER_LENGTH = 9;
const GOAWAY = 0x7;
const EMPTY = Buffer.alloc(0);

/**
 * A byte-stream filter for the client → server direction of one HTTP/2 connection. Feed it
 * every chunk in order; it returns the bytes without any GOAWAY frame: the same Buffer when
 * there was none, which is almost always. A frame header split across chunks is held back
 * until its type is known.
 */
export class GoawayFilter {
  #prefaceLeft = PREFACE_LENGTH;
  /** The start of a frame header that the previous chunk ended in. */
  #held: Buffer = EMPTY;
  /** Payload bytes of the current frame still to come. */
  #payloadLeft = 0;
  /** Whether the current frame's payload is being dropped. */
  #dropping = false;
  /** GOAWAY frames dropped so far. */
  dropped = 0;

  feed(chunk: Buffer): Buffer {
    // Made only when something is cut or held: the common chunk allocates nothing.
    let parts: Buffer[] | undefined;
    let changed = this.#held.length > 0;
    let segment = 0; // start of the run of bytes being kept
    let i = 0;
    while (i < chunk.length) {
      if (this.#prefaceLeft > 0) {
        const n = Math.min(this.#prefaceLeft, chunk.length - i);
        this.#prefaceLeft -= n;
        i += n;
      } else if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, chunk.length - i);
        this.#payloadLeft -= n;
        if (this.#dropping) {
          changed = true;
          (parts ??= []).push(chunk.subarray(segment, i));
          segment = i + n;
        }
        i += n;
      } else {
        const need = FRAME_HEADER_LENGTH - this.#held.length;
        if (chunk.length - i < need) {
          (parts ??= []).push(chunk.subarray(segment, i));
          this.#held = Buffer.concat([this.#held, chunk.subarray(i)]);
          changed = true;
          i = segment = chunk.length;
          break;
        }
        // Read in place: this runs for every frame, so it allocates nothing when the header is whole.
        const header = this.#held.length > 0
          ? Buffer.concat([this.#held, chunk.subarray(i, i + need)])
          : chunk;
        const at = this.#held.length > 0 ? 0 : i;
        this.#payloadLeft = (header[at] << 16) | (header[at + 1] << 8) | header[at + 2];
        this.#dropping = header[at + 3] === GOAWAY;
        if (this.#dropping) {
          this.dropped++;
          changed = true;
          (parts ??= []).push(chunk.subarray(segment, i));
          segment = i + need;
        } else if (this.#held.length > 0) {
          (parts ??= []).push(this.#held);
        }
        if (this.#held.length > 0) this.#held = EMPTY;
        i += need;
      }
    }
    if (!changed) return chunk;
    (parts ??= []).push(chunk.subarray(segment));
    return Buffer.concat(parts.filter((p) => p.length > 0));
  }
}

/**
 * Installs the filter on a socket that an HTTP/2 session is about to read: every 'data' event
 * passes through it. Returns the filter, whose `dropped` count says what it took out.
 *
 * The runtime's session reads the socket through 'data' events (readable.read() emits them as
 * well), so every byte goes through here exactly once.
 */
export function filterClientGoaway(socket: net.Socket): GoawayFilter {
  const filter = new GoawayFilter();
  const emit = socket.emit as (this: net.Socket, event: string | symbol, ...args: unknown[]) => boolean;
  // Every event of the socket comes through here: `arguments` passes the others on without
  // copying them into an array first.
  socket.emit = function (this: net.Socket, event: string | symbol, chunk?: unknown): boolean {
    if (event !== "data") return emit.apply(this, arguments as unknown as [string | symbol, ...unknown[]]);
    const bytes = filter.feed(chunk as Buffer);
    return bytes.length === 0 ? true : emit.call(this, "data", bytes);
  } as typeof socket.emit;
  return filter;
}
