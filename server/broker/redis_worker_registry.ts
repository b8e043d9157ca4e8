/**
 * The worker registry in Redis, shared by every server instance: one HASH of entries
 * (server/redis/keys.ts) and a pub/sub channel for control messages, listened to on its
 * own connection as the broker's wake-ups are.
 */
import type { Logger } from "../log.ts";
import { DEFAULT_PREFIX, workerControlChannel, workerRegistryKey } from "../redis/keys.ts";
import { brokerScripts, type RedisClient } from "./_redis_scripts.ts";
import { RedisWake } from "./_redis_wake.ts";
import { byId, parseControl, type WorkerEntry, type WorkerRegistry } from "./worker_registry.ts";

export function createRedisWorkerRegistry(
  options: { redis: RedisClient; prefix?: string; log: Logger },
): WorkerRegistry {
  const { redis } = options;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const key = workerRegistryKey(prefix);
  const log = options.log.child({ component: "worker-registry" });
  const scripts = brokerScripts(redis);
  const channel = new RedisWake({ source: redis, channel: workerControlChannel(prefix), log });
  return {
    async put(entry) {
      await redis.hset(key, entry.id, JSON.stringify(entry));
    },
    async remove(workerId, serverId) {
      await scripts.run("removeWorker", [key], [workerId, serverId]);
    },
    async list(now, staleMs) {
      const all = await redis.hgetall(key);
      const fresh: WorkerEntry[] = [];
      const stale: string[] = [];
      for (const [id, json] of Object.entries(all)) {
        let entry: WorkerEntry | undefined;
        try {
          entry = JSON.parse(json);
        } catch {
          log.warn("dropping a worker registry entry that is not JSON", { worker_id: id });
        }
        if (entry && entry.seenAt >= now - staleMs) fresh.push(entry);
        else stale.push(id);
      }
      // The instance that wrote these stopped writing: it is gone, and so are its streams.
      if (stale.length > 0) await redis.hdel(key, ...stale);
      return fresh.sort(byId);
    },
    send(control) {
      return channel.notify(JSON.stringify(control));
    },
    async subscribe(listener) {
      const off = await channel.subscribe((text) => {
        const control = parseControl(text);
        if (control) listener(control);
        else log.warn("ignoring a malformed worker control message", { message: text.slice(0, 200) });
      });
      return () => void off();
    },
    close() {
      return channel.close();
    },
  };
}
