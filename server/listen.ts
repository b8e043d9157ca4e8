/**
 * One port for every protocol. Plain text: the first bytes of a connection decide
 * between HTTP/2 with prior knowledge (gRPC, and gRPC-Web/Connect over h2c) and
 * HTTP/1.1 (gRPC-Web and Connect from browsers). With a certificate: one TLS server
 * that negotiates h2 or http/1.1 by ALPN.
 *
 * The peek uses 'readable' + read() + unshift(): a 'data' listener with pause()
 * switches the socket to flowing mode and intermittently broke HTTP/1.1 requests.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Logger } from "./log.ts";

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface ListenOptions {
  host: string;
  port: number;
  handler: Handler;
  tls?: { cert: string; key: string };
  log: Logger;
}

export interface Listener {
  /** The bound port (useful when 0 was asked for). */
  readonly port: number;
  /** Stops accepting connections and closes idle HTTP/1.1 ones; open calls may finish. */
  stopAccepting(): void;
  /** Resolves when no response is being written. */
  idle(): Promise<void>;
  /** Destroys every connection still open. */
  destroyAll(): void;
  /** Resolves once the listening socket is closed. */
  readonly closed: Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

const H2_SETTINGS: http2.Settings = { maxConcurrentStreams: 1000, enablePush: false };

export async function listen(options: ListenOptions): Promise<Listener> {
  // Responses still being written: shutdown waits for these, not just for handlers to return.
  let active = 0;
  const idleWaiters: Array<() => void> = [];
  const handler: Handler = (req, res) => {
    active++;
    res.once("close", () => {
      if (--active === 0) { for (const wake of idleWaiters.splice(0)) wake(); }
    });
    options.handler(req, res);
  };
  const sockets = new Set<net.Socket>();
  const h1Sockets = new Set<net.Socket>();
  const h1Busy = new WeakMap<net.Socket, number>();
  let stopping = false;

  let server: net.Server;
  if (options.tls) {
    const secure = http2.createSecureServer(
      { cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, settings: H2_SETTINGS },
      handler,
    );
    secure.on("secureConnection", (socket: net.Socket) => track(socket));
    server = secure;
  } else {
    const h2 = http2.createServer({ settings: H2_SETTINGS }, handler);
    const h1 = http.createServer(handler);
    h1.keepAliveTimeout = 65_000;
    // HTTP/1.1 has no GOAWAY: on shutdown an idle keep-alive socket is closed at once and a
    // busy one right after its last response.
    h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket;
      h1Busy.set(socket, (h1Busy.get(socket) ?? 0) + 1);
      res.once("close", () => {
        const n = (h1Busy.get(socket) ?? 1) - 1;
        h1Busy.set(socket, n);
        if (stopping && n === 0) socket.end();
      });
    });
    server = net.createServer((socket) => {
      track(socket);
      peek(socket, (isH2) => {
        if (!isH2) h1Sockets.add(socket);
        (isH2 ? h2 : h1).emit("connection", socket);
      });
    });
  }

  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      h1Sockets.delete(socket);
    });
  }

  server.on("error", (error) => options.log.error("listener error", { error }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    closed,
    stopAccepting() {
      stopping = true;
      server.close();
      for (const socket of h1Sockets) if (!h1Busy.get(socket)) socket.end();
    },
    idle() {
      return active === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
    },

    destroyAll() {
      // Sockets only: session.destroy() sends GOAWAY, and under Deno 2.9 a GOAWAY racing the
      // client's own teardown intermittently tripped an nghttp2 assertion that aborts the process.
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** Reads enough of the first chunk to tell HTTP/2 from HTTP/1.x, puts it back, and decides. */
function peek(socket: net.Socket, decide: (isH2: boolean) => void) {
  let seen = Buffer.alloc(0);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read()) !== null) seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    if (n === 0) return;
    const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    // A prefix of the preface may still turn out to be HTTP/1 ("PRI" is no HTTP/1 method we serve), so wait for more.
    if (isH2 && n < H2_PREFACE.length) return;
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
    socket.unshift(seen);
    decide(isH2);
  };
  const onEnd = () => socket.destroy();
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
  socket.once("error", () => socket.destroy());
}
