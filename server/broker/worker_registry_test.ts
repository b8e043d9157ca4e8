/**
 * The worker registry, one set of steps on both implementations: entries by id, removal
 * only by the owning instance, stale entries dropped, and control messages reaching
 * every subscriber (on Redis, one in another connection, as another instance would be).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createMemoryLogger } from "../log.ts";
import { workerRegistryKey } from "../redis/keys.ts";
import { createRedisWorkerRegistry } from "./redis_worker_registry.ts";
import {
  createMemoryWorkerRegistry,
  type WorkerControl,
  type WorkerEntry,
  type WorkerRegistry,
} from "./worker_registry.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";
const T0 = Date.UTC(2026, 5, 1);

function entry(id: string, serverId: string, seenAt = T0): WorkerEntry {
  return {
    id,
    queues: ["q"],
    concurrency: 4,
    activeTaskIds: [],
    lastHeartbeat: seenAt,
    version: "test/1",
    draining: false,
    labels: { zone: "a" },
    load: 0.25,
    connectedAt: T0,
    serverId,
    seenAt,
  };
}

interface Fixture {
  registry: WorkerRegistry;
  /** The registry as another server instance sees it. */
  peer: WorkerRegistry;
  dispose(): Promise<void>;
}

async function memoryFixture(): Promise<Fixture> {
  const registry = createMemoryWorkerRegistry();
  return await Promise.resolve({ registry, peer: registry, dispose: () => registry.close() });
}

async function redisFixture(): Promise<Fixture> {
  const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
  const log = createMemoryLogger();
  const [a, b] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
  const registry = createRedisWorkerRegistry({ redis: a, prefix, log });
  const peer = createRedisWorkerRegistry({ redis: b, prefix, log });
  return await Promise.resolve({
    registry,
    peer,
    async dispose() {
      await registry.close();
      await peer.close();
      await a.del(workerRegistryKey(prefix));
      a.disconnect();
      b.disconnect();
    },
  });
}

for (const [name, open] of [["memory", memoryFixture], ["redis", redisFixture]] as const) {
  Deno.test(`worker registry (${name})`, async (t) => {
    const { registry, peer, dispose } = await open();
    try {
      await t.step("entries are listed by id, as written, by every instance", async () => {
        await registry.put(entry("w2", "s1"));
        await registry.put(entry("w1", "s1"));
        await registry.put({ ...entry("w2", "s1"), activeTaskIds: ["t1"], draining: true });
        const listed = await peer.list(T0, 10_000);
        assert.deepEqual(listed.map((e) => e.id), ["w1", "w2"]);
        assert.deepEqual(listed[1], { ...entry("w2", "s1"), activeTaskIds: ["t1"], draining: true });
      });

      await t.step("only the owning instance removes an entry", async () => {
        // w1 reconnected to s2: the end of its old stream on s1 must not remove the new entry.
        await peer.put(entry("w1", "s2"));
        await registry.remove("w1", "s1");
        assert.deepEqual((await registry.list(T0, 10_000)).map((e) => [e.id, e.serverId]), [
          ["w1", "s2"],
          ["w2", "s1"],
        ]);
        await peer.remove("w1", "s2");
        await peer.remove("never-was", "s2");
        assert.deepEqual((await registry.list(T0, 10_000)).map((e) => e.id), ["w2"]);
      });

      await t.step("an entry not written for staleMs is dropped", async () => {
        await registry.put(entry("w3", "s3", T0 + 5_000));
        assert.deepEqual((await peer.list(T0 + 12_000, 10_000)).map((e) => e.id), ["w3"]);
        // Dropped for good, not only hidden: a later, more lenient read does not see it.
        assert.deepEqual((await peer.list(T0, 1_000_000)).map((e) => e.id), ["w3"]);
      });

      await t.step("a control message reaches every instance's subscribers", async () => {
        const heard: WorkerControl[] = [];
        let arrived!: () => void;
        const both = new Promise<void>((resolve) => arrived = resolve);
        const offs = await Promise.all([registry, peer].map((r) =>
          r.subscribe((control) => {
            heard.push(control);
            if (heard.length === 4) arrived();
          })
        ));
        await registry.send({ kind: "drain", workerId: "w3", graceMs: 5000 });
        await peer.send({ kind: "cancel", taskId: "t9", leaseId: "q/l9" });
        await both;
        const drain = { kind: "drain", workerId: "w3", graceMs: 5000 };
        const cancel = { kind: "cancel", taskId: "t9", leaseId: "q/l9" };
        // Each subscriber hears both, in the order they were sent.
        assert.deepEqual(heard.filter((c) => c.kind === "drain"), [drain, drain]);
        assert.deepEqual(heard.filter((c) => c.kind === "cancel"), [cancel, cancel]);
        for (const off of offs) off();
      });
    } finally {
      await dispose();
    }
  });
}
