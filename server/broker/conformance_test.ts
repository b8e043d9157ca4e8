/**
 * The conformance suite against both brokers (in memory, and real Redis with a key
 * prefix per step), then what only Redis has: key layout, scripts, flushes mid-rebuild,
 * foreign lease ids, a caller's subscriber and keyPrefix.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createMemoryLogger } from "../log.ts";
import { queueKeys, rebuiltKey } from "../redis/keys.ts";
import type { Broker } from "./broker.ts";
import { type BrokerFixture, registerBrokerConformance } from "./conformance.ts";
import { createMemoryBroker } from "./memory_broker.ts";
import { createRedisBroker } from "./redis_broker.ts";
import { T0, task, TTL, within } from "./_conformance_support.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

function testPrefix(): string {
  return `t${crypto.randomUUID().slice(0, 8)}`;
}

async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysOf(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

registerBrokerConformance("memory", () => {
  let broker = createMemoryBroker({ log: createMemoryLogger() });
  const fixture: BrokerFixture = {
    get broker() {
      return broker;
    },
    // One process: another "instance" in embedded mode is the same broker.
    peer: () => Promise.resolve(broker),
    async loseState() {
      // A restarted process: everything in memory is gone.
      await broker.close();
      broker = createMemoryBroker({ log: createMemoryLogger() });
      return broker;
    },
    dispose: () => broker.close(),
  };
  return Promise.resolve(fixture);
});

/** A Redis broker on its own prefix; peers get their own connections, as other server instances would. */
function redisFixture(): BrokerFixture {
  const prefix = testPrefix();
  const log = createMemoryLogger();
  const main = new Redis(REDIS_URL);
  const clients = [main];
  const brokers: Broker[] = [];
  const open = (redis: Redis) => {
    const broker = createRedisBroker({ redis, prefix, log });
    brokers.push(broker);
    return broker;
  };
  const broker = open(main);
  return {
    broker,
    peer() {
      const redis = new Redis(REDIS_URL);
      clients.push(redis);
      return Promise.resolve(open(redis));
    },
    async loseState() {
      // What FLUSHALL does to this broker, without touching other tests' keys.
      await dropPrefix(main, prefix);
      return broker;
    },
    async dispose() {
      for (const b of brokers) await b.close();
      await dropPrefix(main, prefix);
      assert.deepEqual(await keysOf(main, prefix), []);
      for (const c of clients) c.disconnect();
    },
  };
}

registerBrokerConformance("redis", () => Promise.resolve(redisFixture()));

Deno.test("redis broker: what only Redis has", async (t) => {
  const redis = new Redis(REDIS_URL);
  const log = createMemoryLogger();
  const withBroker = async (
    fn: (broker: Broker, prefix: string) => Promise<void>,
    options: { client?: Redis; subscriber?: Redis } = {},
  ) => {
    const prefix = testPrefix();
    const broker = createRedisBroker({
      redis: options.client ?? redis,
      prefix,
      log,
      subscriber: options.subscriber,
    });
    try {
      await fn(broker, prefix);
    } finally {
      await broker.close();
      await dropPrefix(redis, prefix);
    }
  };

  try {
    await t.step("every key carries the prefix and its queue's hash tag", async () => {
      await withBroker(async (broker, prefix) => {
        await broker.add([task("emails", 5, 1), task("emails", 5, 2, T0 + 1_000), task("reports", 5, 3)], T0);
        await broker.claim({ queues: ["emails"], max: 1, workerId: "w{odd}", leaseTtlMs: TTL, now: T0 });
        await broker.setPaused("reports", true);
        await broker.needsRebuild();
        await broker.markRebuilt();
        const keys = await keysOf(redis, prefix);
        const tags = new Set(keys.map((k) => /^[^{]*\{([^}]*)\}/.exec(k)?.[1]));
        assert.deepEqual([...tags].sort(), ["emails", "meta", "reports"]);
        assert.ok(keys.every((k) => k.startsWith(`${prefix}:{`)), keys.join());
        const emails = queueKeys(prefix, "emails");
        assert.equal(await redis.zcard(emails.ready), 0);
        assert.equal(await redis.zcard(emails.leaseExpiry), 1);
        assert.equal(await redis.zcard(emails.delayed), 1);
        assert.deepEqual(
          await redis.smembers(`${emails.workerLeases}w{odd}`),
          await redis.hkeys(emails.leases),
        );
        assert.equal(await redis.exists(rebuiltKey(prefix)), 1);
      });
    });

    await t.step("each script is <name>-<nkeys>.lua with every key and argument in its header", async () => {
      const dir = new URL("./lua/", import.meta.url);
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.equal(files.length, 11);
      for (const file of files) {
        const match = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
        assert.ok(match, `${file} is named <name>-<nkeys>.lua`);
        const text = await Deno.readTextFile(new URL(file, dir));
        const header = text.split("\n").filter((l) => l.startsWith("--")).join("\n");
        const declared = new Set([...header.matchAll(/-- KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
        assert.equal(declared.size, Number(match[2]), `${file} documents each of its keys`);
        const used = new Set([...text.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
        assert.ok([...used].every((k) => declared.has(k)), `${file} uses only documented keys`);
        assert.match(header, /-- ARGV\[/, `${file} documents its arguments`);
        assert.match(header, /-- Returns /, `${file} documents what it returns`);
      }
    });

    await t.step("a flush during a rebuild keeps needsRebuild true", async () => {
      await withBroker(async (broker, prefix) => {
        assert.equal(await broker.needsRebuild(), true);
        await broker.add([task("q", 5, 1)], T0);
        await dropPrefix(redis, prefix);
        await broker.add([task("q", 5, 2)], T0);
        await broker.markRebuilt();
        assert.equal(await broker.needsRebuild(), true, "the first task was lost with the flush");
        assert.ok(log.lines.some((l) => String(l.msg).startsWith("broker state was lost again")));
        await broker.markRebuilt();
        assert.equal(await broker.needsRebuild(), false);

        // Two instances rebuilding at once: the later one to start marks it done.
        const other = createRedisBroker({ redis, prefix, log });
        await dropPrefix(redis, prefix);
        assert.equal(await broker.needsRebuild(), true);
        assert.equal(await other.needsRebuild(), true);
        await broker.markRebuilt();
        assert.equal(await redis.exists(rebuiltKey(prefix)), 0);
        await other.markRebuilt();
        assert.equal(await redis.exists(rebuiltKey(prefix)), 1);
        await other.close();
      });
    });

    await t.step("a lease id that names no queue is still found", async () => {
      await withBroker(async (broker) => {
        await broker.add([task("a", 5, 1)], T0);
        const foreign = {
          taskId: "restored-1",
          queue: "b",
          leaseId: "legacy-lease",
          workerId: "w1",
          expiresAt: T0,
        };
        await broker.restoreLeases([foreign]);
        assert.deepEqual([...await broker.extend([foreign], TTL, T0)], ["legacy-lease"]);
        assert.equal(await broker.release("restored-1", "legacy-lease"), true);
        assert.equal(await broker.release("restored-1", "legacy-lease"), false);
        assert.equal(await broker.release("x", "q{bad}/forged"), false);
      });
    });

    await t.step("a caller's subscriber is used and left open; a client keyPrefix is honoured", async () => {
      const keyPrefix = `${testPrefix()}:`;
      const prefixed = new Redis(REDIS_URL, { keyPrefix });
      const subscriber = new Redis(REDIS_URL);
      try {
        await withBroker(async (broker, prefix) => {
          let heard!: (queue: string) => void;
          const woken = new Promise<string>((resolve) => heard = resolve);
          await broker.subscribe(heard);
          await broker.notify("q");
          assert.equal(await within(woken, 5_000, "the wake-up"), "q");

          await broker.add([task("q", 5, 1)], T0);
          const [lease] = await broker.claim({
            queues: ["q"],
            max: 1,
            workerId: "w1",
            leaseTtlMs: TTL,
            now: T0,
          });
          assert.deepEqual(await broker.leasesOf("w1"), [lease]);
          assert.ok((await keysOf(redis, `${keyPrefix}${prefix}`)).length > 0);
          assert.equal(await broker.release(lease.taskId, lease.leaseId), true);
          assert.deepEqual(await broker.leasesOf("w1"), []);
          await dropPrefix(redis, `${keyPrefix}${prefix}`);
        }, { client: prefixed, subscriber });
        assert.equal(subscriber.status, "ready", "the broker did not close what it was given");
      } finally {
        prefixed.disconnect();
        subscriber.disconnect();
      }
    });
  } finally {
    redis.disconnect();
  }
});
