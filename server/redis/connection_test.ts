import assert from "node:assert/strict";
import { createMemoryLogger } from "../log.ts";
import { connectRedis, openRedisMode, pingRedis, RECONNECT_CAP_MS, reconnectDelay } from "./connection.ts";

const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** A port nothing listens on: bound by us, then released. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("redis connection", async (t) => {
  await t.step("ping answers on the real server and keys carry the prefix", async () => {
    const prefix = `test:${crypto.randomUUID()}:`;
    const log = createMemoryLogger();
    const redis = connectRedis(REDIS_URL, { log, keyPrefix: prefix, name: "connection-test" });
    const plain = connectRedis(REDIS_URL, { log });
    try {
      assert.equal(await pingRedis(redis, 2_000), true);
      await redis.set("k", "v");
      assert.equal(await plain.get(`${prefix}k`), "v");
    } finally {
      await plain.del(`${prefix}k`);
      await Promise.all([redis.quit(), plain.quit()]);
    }
  });

  await t.step("a closed port reports false within the timeout and logs each change once", async () => {
    const log = createMemoryLogger();
    const redis = connectRedis(`redis://127.0.0.1:${closedPort()}`, { log });
    try {
      const started = performance.now();
      assert.equal(await pingRedis(redis, 300), false);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 300 + 200, `pingRedis took ${elapsed} ms`);
      const errors = log.lines.filter((l) => l.msg === "redis error");
      assert.equal(errors.length, 1, "refusals after the first are rate limited");
      assert.match(String(errors[0].error), /ECONNREFUSED/);
      assert.ok(log.lines.filter((l) => l.msg === "redis reconnecting").length <= 1);
    } finally {
      redis.disconnect();
    }
  });

  await t.step("reconnect delays grow and stay under the cap", () => {
    assert.equal(reconnectDelay(1, () => 1), 50);
    assert.equal(reconnectDelay(2, () => 1), 100);
    assert.equal(reconnectDelay(3, () => 0), 100);
    assert.equal(reconnectDelay(60, () => 1), RECONNECT_CAP_MS);
    assert.equal(reconnectDelay(60, () => 0), RECONNECT_CAP_MS / 2);
  });

  await t.step("no url means embedded mode; a url opens a client", async () => {
    const log = createMemoryLogger();
    assert.deepEqual(openRedisMode(undefined, log), { kind: "embedded" });
    assert.deepEqual(openRedisMode("", log), { kind: "embedded" });
    const mode = openRedisMode(REDIS_URL, log);
    assert.equal(mode.kind, "redis");
    if (mode.kind !== "redis") return;
    try {
      assert.equal(mode.url, REDIS_URL);
      assert.equal(await pingRedis(mode.client, 2_000), true);
    } finally {
      await mode.client.quit();
    }
  });
});
