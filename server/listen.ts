/**
 * One port for every protocol. Plain text: the first bytes of a connection decide
 * between HTTP/2 with prior knowledge (gRPC, and gRPC-Web/Connect over h2c) and
 * HTTP/1.1 (gRPC-Web and Connect from browsers). With a certificate: one TLS server
 * that negotiates h2 or http/1.1 by ALPN.
 *
 * What a peer cannot do to the process (see "Limits and timeouts" in docs/ARCHITECTURE.md):
 * crash it with a GOAWAY (h2_goaway_filter.ts), hold more connections than the caps
 * (connection_gate.ts), keep a connection that says nothing, sends headers forever or sits
 * idle, or leave it deaf after the file table filled up (accept_watchdog.ts).
 *
 * The peek uses 'readable' + read() + unshift(): a 'data' listener with pause()
 * switches the socket to flowing mode and intermittently broke HTTP/1.1 requests.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import { clearTimeout, setTimeout } from "node:timers";
import type { Logger } from "./log.ts";
import { startAcceptWatchdog } from "./accept_watchdog.ts";
import { ConnectionGate } from "./connection_gate.ts";
import { filterClientGoaway } from "./h2_goaway_filter.ts";
import type { MetricsRegistry } from "./observability/metrics.ts";

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Every limit and timeout of the transport; each has a TASKMESH_* variable (server/config.ts). */
export interface TransportLimits {
  /** A connection must have shown its protocol (HTTP/2 preface, HTTP/1 request line) within this. */
  firstByteTimeoutMs: number;
  /** An HTTP/1.1 request must have sent all its headers within this. */
  http1HeadersTimeoutMs: number;
  /** An HTTP/2 connection with no open stream for this long is closed. */
  http2IdleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  firstByteTimeoutMs: 10_000,
  http1HeadersTimeoutMs: 10_000,
  http2IdleTimeoutMs: 300_000,
  maxConnections: 4096,
  maxConnectionsPerAddress: 512,
};

/** HTTP/1.1 keep-alive: an idle connection between requests is closed after this. */
const HTTP1_KEEP_ALIVE_MS = 65_000;
/** HTTP/1.1: the whole request (headers and body) must have arrived within this. */
const HTTP1_REQUEST_TIMEOUT_MS = 300_000;

export interface ListenOptions {
  host: string;
  port: number;
  handler: Handler;
  tls?: { cert: string; key: string };
  log: Logger;
  limits: TransportLimits;
  metrics: MetricsRegistry;
  /** How often the accept watchdog looks at the file table (default 1 s). */
  acceptCheckMs?: number;
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
  const { limits, log } = options;
  const metrics = transportMetrics(options.metrics);
  const gate = new ConnectionGate(limits, log, metrics.refused);
  options.metrics.gauge("taskmesh_connections_open", "TCP connections open now.", () => gate.open);

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
  // The raw socket of the HTTP/2 session being created: the runtime emits 'session'
  // synchronously inside the 'connection' handler, and the session's own socket is a proxy.
  let connecting: net.Socket | undefined;
  const onSession = (session: http2.ServerHttp2Session) => {
    if (connecting) reapIdleSession(session, connecting, limits.http2IdleTimeoutMs, metrics.reaped);
  };

  let server: net.Server;
  let h1: http.Server | undefined;
  if (options.tls) {
    const secure = http2.createSecureServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        allowHTTP1: true,
        settings: H2_SETTINGS,
        handshakeTimeout: limits.firstByteTimeoutMs,
      },
      handler,
    );
    // HTTP/1.1 over TLS: the runtime reads these off the server and starts checking when it listens.
    Object.assign(secure, {
      headersTimeout: limits.http1HeadersTimeoutMs,
      connectionsCheckingInterval: checkingInterval(limits.http1HeadersTimeoutMs),
    });
    secure.on("connection", (socket: net.Socket) => {
      if (gate.admit(socket)) track(socket);
    });
    // Before the runtime's own listener, which creates the HTTP/2 session.
    secure.prependListener("secureConnection", (socket: tls.TLSSocket) => {
      connecting = socket;
      if (socket.alpnProtocol === "h2") countDropped(socket, filterClientGoaway(socket));
    });
    secure.on("secureConnection", () => connecting = undefined);
    secure.on("session", onSession);
    server = secure;
  } else {
    const h2 = http2.createServer({ settings: H2_SETTINGS }, handler);
    h2.on("session", onSession);
    h1 = http.createServer({
      headersTimeout: limits.http1HeadersTimeoutMs,
      requestTimeout: Math.max(HTTP1_REQUEST_TIMEOUT_MS, limits.http1HeadersTimeoutMs),
      // How often the runtime looks for requests past those timeouts.
      connectionsCheckingInterval: checkingInterval(limits.http1HeadersTimeoutMs),
    }, handler);
    h1.keepAliveTimeout = HTTP1_KEEP_ALIVE_MS;
    // The runtime starts checking those timeouts when the server listens; this one never
    // listens (connections are handed to it), so tell it to start.
    h1.emit("listening");
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
    const http1 = h1;
    server = net.createServer((socket) => {
      if (!gate.admit(socket)) return;
      track(socket);
      peek(socket, limits.firstByteTimeoutMs, metrics.reaped, (isH2) => {
        if (!isH2) {
          h1Sockets.add(socket);
          http1.emit("connection", socket);
          return;
        }
        countDropped(socket, filterClientGoaway(socket));
        connecting = socket;
        try {
          h2.emit("connection", socket);
        } finally {
          connecting = undefined;
        }
      });
    });
  }

  function countDropped(socket: net.Socket, filter: { dropped: number }) {
    socket.once("close", () => {
      if (filter.dropped > 0) metrics.goawayDropped.inc({}, filter.dropped);
    });
  }

  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      h1Sockets.delete(socket);
    });
  }

  server.on("error", (error) => log.error("listener error", { error }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const watchdog = startAcceptWatchdog(server, {
    intervalMs: options.acceptCheckMs ?? 1000,
    log,
    exhausted: metrics.fdExhausted,
  });
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    closed,
    stopAccepting() {
      stopping = true;
      watchdog.stop();
      server.close();
      // Stops the HTTP/1.1 timeout checks; the server never listened, so there is nothing else to close.
      h1?.close();
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

/** How often the runtime looks for HTTP/1.1 requests past their header timeout. */
function checkingInterval(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, headersTimeoutMs / 4));
}

function transportMetrics(registry: MetricsRegistry) {
  const m = {
    refused: registry.counter(
      "taskmesh_connections_refused_total",
      "Connections closed on arrival because a connection cap was reached, by reason.",
    ),
    reaped: registry.counter(
      "taskmesh_connections_reaped_total",
      "Connections closed by a transport timeout, by reason.",
    ),
    fdExhausted: registry.counter(
      "taskmesh_listener_fd_exhausted_total",
      "Times the process was found at its open-file limit (new connections waited meanwhile).",
    ),
    goawayDropped: registry.counter(
      "taskmesh_h2_client_goaway_dropped_total",
      "HTTP/2 GOAWAY frames from clients kept away from the runtime's HTTP/2 engine.",
    ),
  };
  // Shown as 0 before the first occurrence, so alerts can use rate().
  m.fdExhausted.inc({}, 0);
  m.goawayDropped.inc({}, 0);
  return m;
}

/**
 * Closes an HTTP/2 connection once it has had no open stream for `idleMs`. The socket is
 * destroyed rather than the session closed: a GOAWAY from the server can trip the same nghttp2
 * assertion as a client's (see h2_goaway_filter.ts), and with no stream open nothing is lost.
 */
function reapIdleSession(
  session: http2.ServerHttp2Session,
  socket: net.Socket,
  idleMs: number,
  reaped: { inc(labels: Record<string, string>): void },
) {
  let open = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      reaped.inc({ reason: "http2_idle" });
      socket.destroy();
    }, idleMs).unref();
  };
  arm();
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    if (open++ === 0) clearTimeout(timer);
    stream.once("close", () => {
      if (--open === 0 && !socket.destroyed) arm();
    });
  });
  socket.once("close", () => clearTimeout(timer));
}

/**
 * Reads enough of the first chunk to tell HTTP/2 from HTTP/1.x, puts it back, and decides.
 * A connection that has not shown which within `timeoutMs` is closed.
 */
function peek(
  socket: net.Socket,
  timeoutMs: number,
  reaped: { inc(labels: Record<string, string>): void },
  decide: (isH2: boolean) => void,
) {
  let seen = Buffer.alloc(0);
  const timer = setTimeout(() => {
    reaped.inc({ reason: "first_byte" });
    socket.destroy();
  }, timeoutMs).unref();
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read()) !== null) seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    if (n === 0) return;
    const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    // A prefix of the preface may still turn out to be HTTP/1 ("PRI" is no HTTP/1 method we serve), so wait for more.
    if (isH2 && n < H2_PREFACE.length) return;
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
    socket.unshift(seen);
    decide(isH2);
  };
  const onEnd = () => socket.destroy();
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
  socket.once("close", () => clearTimeout(timer));
  socket.once("error", () => socket.destroy());
}
