/**
 * A Redis server of the bench's own for "BullMQ (AOF always)": `redis-server` on a free
 * loopback port, its files in a temporary folder, with `appendonly yes` and
 * `appendfsync always` (every write is fsynced to the append-only file before Redis
 * answers: the durable way to run BullMQ) and no RDB snapshots. Stopped, and its folder
 * removed, by `stop()`.
 */
import { Redis } from "ioredis";
import { freePort } from "../rpc/_server_process.ts";
import { spawnChild, stopChild } from "./_child.ts";
import { poll } from "./_system.ts";

export interface AofRedis {
  url: string;
  version: string;
  stop(): Promise<void>;
}

export async function startAofRedis(tmp: string): Promise<AofRedis> {
  const dir = await Deno.makeTempDir({ dir: tmp, prefix: "redis-aof-" });
  const port = freePort();
  const child = spawnChild("redis-server (AOF always)", [
    "redis-server",
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
    "--protected-mode",
    "yes",
  ], {});
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child, 10_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused connections while it starts are expected: the poll below retries.
    redis.on("error", () => {});
    try {
      await poll(
        async () => {
          if (child.exitCode !== undefined) throw new Error(`exited with code ${child.exitCode}`);
          try {
            if (redis.status !== "ready") await redis.connect();
            return (await redis.ping()) === "PONG";
          } catch {
            redis.disconnect();
            return false;
          }
        },
        15_000,
        "redis-server to answer",
      );
      const config = await redis.config("GET", "appendfsync") as string[];
      if (config[1] !== "always") throw new Error(`appendfsync is ${config[1]}, not always`);
      const version = (await redis.info("server")).match(/redis_version:(\S+)/)?.[1] ?? "unknown";
      return { url, version, stop };
    } finally {
      redis.disconnect();
    }
  } catch (error) {
    await stop();
    throw new Error(
      `starting redis-server with appendfsync always: ${(error as Error).message}\n${child.tail()}`,
    );
  }
}
