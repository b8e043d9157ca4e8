/**
 * A raw HTTP/2 client for transport tests: it writes frames itself, so a test controls exactly
 * what reaches the server (a burst of streams, a GOAWAY, a FIN or a reset) and spends little CPU
 * of its own doing it. It understands just enough of the server's frames to answer SETTINGS and
 * to count streams that ended.
 */
import { Buffer } from "node:buffer";
import net from "node:net";

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array()) {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  out.set(payload, 9);
  return out;
}

/** HPACK "literal without indexing" of a header whose name is in the static table at `index`. */
function indexedName(index: number, value: string): number[] {
  const v = [...Buffer.from(value)];
  // A 4-bit prefix: indexes of 15 and more continue in the next byte.
  const name = index < 15 ? [index] : [15, index - 15];
  return [...name, v.length, ...v];
}

function newName(name: string, value: string): number[] {
  const n = [...Buffer.from(name)];
  const v = [...Buffer.from(value)];
  return [0, n.length, ...n, v.length, ...v];
}

/** HEADERS and DATA frames of one gRPC unary call with an empty request message. */
export function grpcCall(streamId: number, path: string, authority: string): Buffer {
  const block = Uint8Array.from([
    0x83, // :method POST
    0x86, // :scheme http
    ...indexedName(4, path), // :path
    ...indexedName(1, authority), // :authority
    ...indexedName(31, "application/grpc"), // content-type
    ...newName("te", "trailers"),
  ]);
  return Buffer.concat([
    frame(HEADERS, END_HEADERS, streamId, block),
    frame(DATA, END_STREAM, streamId, new Uint8Array(5)),
  ]);
}

export function goaway(lastStreamId = 0, code = 0): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  return frame(GOAWAY, 0, 0, payload);
}

export interface RawH2Connection {
  socket: net.Socket;
  /** Streams the server ended (END_STREAM or RST_STREAM) so far. */
  readonly ended: number;
  /** Streams that ended with a response whose trailers said grpc-status 0 cannot be told apart cheaply; this counts RST_STREAMs. */
  readonly reset: number;
  /** The error code of the last GOAWAY the server sent, if it sent one. */
  readonly goawayCode: number | undefined;
  /** Resolves once `n` streams have ended, or rejects when the connection closes first. */
  untilEnded(n: number): Promise<void>;
  /** Resolves when the server closed the connection (or it failed). */
  readonly closed: Promise<void>;
}

/** Opens a connection, sends the preface and an empty SETTINGS frame. */
export function openRawH2(port: number, host = "127.0.0.1"): Promise<RawH2Connection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    let ended = 0;
    let reset = 0;
    let goawayCode: number | undefined;
    let waiter: { n: number; resolve: () => void; reject: (e: Error) => void } | undefined;
    let buffered: Buffer = Buffer.alloc(0);
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("error", () => {});
    socket.once("close", () => waiter?.reject(new Error(`connection closed after ${ended} streams ended`)));
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3];
        const flags = buffered[4];
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
        if (type === GOAWAY && length >= 8) goawayCode = buffered.readUInt32BE(9 + 4);
        buffered = buffered.subarray(9 + length);
        if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0));
        if (streamId !== 0 && (type === HEADERS || type === DATA) && flags & END_STREAM) ended++;
        if (type === RST_STREAM) (ended++, reset++);
      }
      if (waiter && ended >= waiter.n) {
        const w = waiter;
        waiter = undefined;
        w.resolve();
      }
    });
    socket.once("connect", () => {
      socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
      resolve({
        socket,
        get ended() {
          return ended;
        },
        get reset() {
          return reset;
        },
        get goawayCode() {
          return goawayCode;
        },
        untilEnded(n) {
          if (ended >= n) return Promise.resolve();
          if (socket.destroyed) {
            return Promise.reject(new Error(`connection closed after ${ended} streams ended`));
          }
          return new Promise((res, rej) => waiter = { n, resolve: res, reject: rej });
        },
        closed,
      });
    });
    socket.once("error", reject);
  });
}
