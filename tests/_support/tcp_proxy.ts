/**
 * A loopback TCP proxy a test can cut and restore, to put Postgres or Redis "down" for
 * one server without touching the machine's own Postgres and Redis (other tests use them).
 *
 * - `cut()`: every open connection is destroyed and the port stops listening, so new
 *   connections are refused, as when the server process is gone.
 * - `stall()`: the port accepts connections but forwards nothing, and every open connection
 *   stops forwarding, as behind a network partition.
 * - `restore()`: the same port forwards again.
 */
import net from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string;
  /** How many connections are open through the proxy now. */
  readonly open: number;
  cut(): Promise<void>;
  stall(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  /** Connections accepted while stalled: connected upstream on restore. */
  const held = new Set<net.Socket>();
  let stalled = false;
  let server: net.Server | undefined;
  let port = 0;

  const forward = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", forget);
    client.on("error", forget);
    client.on("close", forget);
    upstream.on("close", forget);
    // Paused sockets keep their bytes (TCP backpressure), as a partition that heals would.
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const onConnection = (client: net.Socket) => {
    client.on("error", () => {});
    if (!stalled) return forward(client);
    client.pause();
    held.add(client);
    client.on("close", () => held.delete(client));
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      stalled = false;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      for (const client of held) client.destroy();
      held.clear();
      if (!s) return resolve();
      s.close(() => resolve());
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get open() {
      return pairs.size + held.size;
    },
    url(url: string) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.href;
    },
    cut: stop,
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.unpipe();
        upstream.unpipe();
        client.pause();
        upstream.pause();
      }
    },
    async restore() {
      if (stalled) {
        stalled = false;
        for (const { client, upstream } of pairs) {
          client.pipe(upstream);
          upstream.pipe(client);
        }
        for (const client of held) {
          held.delete(client);
          forward(client);
          client.resume();
        }
      }
      if (!server) await listen();
    },
    close: stop,
  };
}
