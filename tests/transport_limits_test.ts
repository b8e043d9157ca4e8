/**
 * Every connection is reaped or refused by a configured limit (issue 10, item 5): a connection
 * that never sends a byte, HTTP/1.1 headers that never end, an HTTP/2 connection left idle, a
 * worker stream that never says Hello, and more connections than the caps allow. Each limit is
 * set short here, and each test waits for the server to act, not for time.
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { WorkerService } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { grpcCall, openRawH2 } from "./_support/h2_raw_client.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function portOf(server: TestServer): number {
  return Number(new URL(server.url).port);
}

/** Opens a TCP connection and resolves once it is open. */
function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves with what the server sent, once it closed the connection; rejects if it has not within `ms`. */
function closedByServer(socket: net.Socket, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(
      () => reject(new Error(`the server did not close the connection within ${ms} ms`)),
      ms,
    );
    socket.on("data", (chunk) => got += chunk);
    socket.on("error", () => {});
    const done = () => {
      clearTimeout(timer);
      resolve(got);
    };
    if (socket.destroyed) done();
    else socket.once("close", done);
  });
}

/** A figure from the server's /metrics text, read in process (no connection of its own). */
function metric(server: TestServer, name: string, labels = ""): number {
  const text = server.app.metrics.registry.render();
  const line = text.split("\n").find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** Resolves once `condition` holds, looking again after each turn of the event loop's timers. */
async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One HTTP/1.1 request on an open socket; the status line of the answer. */
function request(socket: net.Socket, path: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once("data", (chunk) => resolve(String(chunk).split("\r\n")[0]));
    socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
  });
}

Deno.test(
  "a connection that sends nothing is closed after TASKMESH_FIRST_BYTE_TIMEOUT_MS",
  opts,
  async () => {
    const server = await startTestServer({ env: { TASKMESH_FIRST_BYTE_TIMEOUT_MS: "200" } });
    try {
      const silent = await connect(portOf(server));
      const started = performance.now();
      assert.equal(await closedByServer(silent), "");
      assert.ok(performance.now() - started >= 150, "not before the timeout");
      assert.equal(metric(server, "taskmesh_connections_reaped_total", 'reason="first_byte"'), 1);
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "HTTP/1.1 headers that never end are cut after TASKMESH_HTTP1_HEADERS_TIMEOUT_MS",
  opts,
  async () => {
    const server = await startTestServer({ env: { TASKMESH_HTTP1_HEADERS_TIMEOUT_MS: "300" } });
    try {
      const slowloris = await connect(portOf(server));
      slowloris.write("GET /healthz HTTP/1.1\r\nhost: x\r\nx-one: 1\r\n");
      const answer = await closedByServer(slowloris);
      assert.match(answer, /^HTTP\/1\.1 408 /, "a 408 before the close");
      // A request that completes its headers in time is served as usual.
      const ok = await fetch(`${server.url}/healthz`);
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    } finally {
      await server.close();
    }
  },
);

Deno.test("over TLS too, HTTP/1.1 headers that never end are cut", opts, async () => {
  const dir = await Deno.makeTempDir();
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
    ]
      .concat(["-subj", "/CN=127.0.0.1", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`]),
    stdout: "null",
    stderr: "null",
  }).output();
  assert.equal(made.code, 0);
  const server = await startTestServer({
    env: {
      TASKMESH_TLS_CERT_FILE: `${dir}/cert.pem`,
      TASKMESH_TLS_KEY_FILE: `${dir}/key.pem`,
      TASKMESH_HTTP1_HEADERS_TIMEOUT_MS: "300",
    },
  });
  try {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        port: portOf(server),
        host: "127.0.0.1",
        rejectUnauthorized: false,
        ALPNProtocols: ["http/1.1"],
      });
      s.once("secureConnect", () => resolve(s));
      s.once("error", reject);
    });
    const started = performance.now();
    socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\nx-one: 1\r\n");
    assert.match(await closedByServer(socket), /^HTTP\/1\.1 408 /);
    assert.ok(performance.now() - started < 10_000, "cut at the configured timeout, not the runtime's 60 s");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "an HTTP/2 connection with no open stream is closed after TASKMESH_HTTP2_IDLE_TIMEOUT_MS, one with a stream is not",
  opts,
  async () => {
    const server = await startTestServer({ env: { TASKMESH_HTTP2_IDLE_TIMEOUT_MS: "300" } });
    try {
      const port = portOf(server);
      // A watch keeps its stream open: its connection must outlive the idle timeout.
      const watchAbort = new AbortController();
      const watching = createClient(Health, server.grpc()).watch({}, { signal: watchAbort.signal });
      const first = await watching[Symbol.asyncIterator]().next();
      assert.equal(first.done, false);

      const idle = await openRawH2(port);
      idle.socket.write(grpcCall(1, "/grpc.health.v1.Health/Check", `127.0.0.1:${port}`));
      await idle.untilEnded(1);
      // Opened after the watch, so once this one is reaped the watch's connection was idle-timed too, had it been idle.
      await idle.closed;
      assert.equal(metric(server, "taskmesh_connections_reaped_total", 'reason="http2_idle"'), 1);
      watchAbort.abort();
    } finally {
      await server.close();
    }
  },
);

Deno.test(
  "connections over TASKMESH_MAX_CONNECTIONS or TASKMESH_MAX_CONNECTIONS_PER_ADDRESS are closed on arrival",
  opts,
  async () => {
    const server = await startTestServer({
      env: { TASKMESH_MAX_CONNECTIONS: "4", TASKMESH_MAX_CONNECTIONS_PER_ADDRESS: "2" },
    });
    const held: net.Socket[] = [];
    try {
      const port = portOf(server);
      held.push(await connect(port), await connect(port));
      const third = await connect(port);
      assert.equal(await closedByServer(third), "", "a third from 127.0.0.1 is refused");
      assert.equal(
        metric(server, "taskmesh_connections_refused_total", 'reason="max_connections_per_address"'),
        1,
      );

      // Another address still gets its share, up to the total cap.
      held.push(await connect(port, "127.0.0.2"), await connect(port, "127.0.0.3"));
      const fifth = await connect(port, "127.0.0.4");
      assert.equal(await closedByServer(fifth), "", "a fifth connection is refused");
      assert.equal(metric(server, "taskmesh_connections_refused_total", 'reason="max_connections"'), 1);

      // A connection that closes gives its place back.
      held.shift()!.destroy();
      await until(() => metric(server, "taskmesh_connections_open") === 3, "the server saw the close");
      const again = await connect(port);
      held.push(again);
      assert.match(await request(again, "/healthz"), / 200 /);
    } finally {
      for (const socket of held) socket.destroy();
      await server.close();
    }
  },
);

Deno.test(
  "a worker stream that sends no Hello is ended after TASKMESH_WORKER_HELLO_TIMEOUT_MS",
  opts,
  async () => {
    const server = await startTestServer({
      env: { TASKMESH_SERVICES: "tasks", TASKMESH_WORKER_HELLO_TIMEOUT_MS: "300" },
      authenticate: false,
    });
    try {
      const workers = createClient(WorkerService, server.grpc());
      let release!: () => void;
      const never = new Promise<void>((resolve) => release = resolve);
      const silent = (async function* () {
        await never;
        yield* [];
      })();
      await assert.rejects(
        async () => {
          for await (const _ of workers.connect(silent, { timeoutMs: 10_000 })) { /* nothing arrives */ }
        },
        (e: unknown) => {
          assert.ok(e instanceof ConnectError);
          assert.equal(e.code, Code.DeadlineExceeded);
          assert.match(e.rawMessage, /no Hello within 300 ms/);
          return true;
        },
      );
      release();
    } finally {
      await server.close();
    }
  },
);

Deno.test("the transport limits are validated with the rest of the configuration", async () => {
  const { loadConfig } = await import("../server/load_config.ts");
  assert.throws(
    () => loadConfig({ TASKMESH_MAX_CONNECTIONS: "0", TASKMESH_HTTP2_IDLE_TIMEOUT_MS: "soon" }),
    (e: unknown) => {
      const message = (e as Error).message;
      assert.match(message, /TASKMESH_MAX_CONNECTIONS must be a whole number from 1 to 1000000, got "0"/);
      assert.match(message, /TASKMESH_HTTP2_IDLE_TIMEOUT_MS must be a whole number/);
      return true;
    },
  );
  const limits = loadConfig({ TASKMESH_MAX_CONNECTIONS: "10" }).server.transport;
  assert.equal(limits.maxConnectionsPerAddress, 10, "one address never gets more than all together");
});
