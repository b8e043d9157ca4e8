/**
 * A private redis-server process on a free loopback port, with its files in a temp dir and
 * no persistence: a test may FLUSHALL it, or point a server process (which has no key
 * prefix) at it, without touching the machine's Redis that other tests share.
 */
export interface RedisServer {
  url: string;
  port: number;
  /** Stops the process and removes its directory. */
  stop(): Promise<void>;
}

/** A port nothing listens on now (the kernel's choice). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts redis-server (from PATH) and resolves once it accepts connections. */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "taskmesh-redis-" });
  const port = freePort();
  const command = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "notice",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "redis-server is not on PATH: install it (apt-get install redis-server) to run this test",
      );
    }
    throw error;
  }
  const stderr = new Response(child.stderr).text();
  // redis-server logs this line once it listens; reading until it (or the end) is the wait.
  let seen = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    seen += chunk;
    if (seen.includes("Ready to accept connections")) break;
  }
  if (!seen.includes("Ready to accept connections")) {
    await child.status;
    await Deno.remove(dir, { recursive: true });
    throw new Error(`redis-server did not start on port ${port}:\n${seen}\n${await stderr}`);
  }
  // Keep draining its log so a full pipe never blocks it.
  void child.stdout.pipeTo(new WritableStream()).catch(() => {});
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await stderr;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
