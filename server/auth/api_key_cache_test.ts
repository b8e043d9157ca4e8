import assert from "node:assert/strict";
import { createMemoryLogger } from "../log.ts";
import { createMemoryRevocationBus } from "../authz/revocations.ts";
import { VerifiedKeyCache } from "./api_key_cache.ts";

const key = (keyId: string, ownerId = "owner") => ({
  kind: "api_key" as const,
  keyId,
  ownerId,
  scopes: ["tasks:read"],
});

function cache(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const bus = createMemoryRevocationBus(createMemoryLogger("warn"));
  return { bus, cache: new VerifiedKeyCache({ bus, ...options }) };
}

Deno.test("the least recently used key goes first when the cache is full", () => {
  const { cache: c } = cache({ maxEntries: 2 });
  c.set("a", key("a"), null, c.epoch, 0);
  c.set("b", key("b"), null, c.epoch, 0);
  assert.equal(c.get("a", 1)?.keyId, "a"); // a is now the most recently used
  c.set("c", key("c"), null, c.epoch, 2);
  assert.equal(c.size, 2);
  assert.equal(c.get("b", 3), undefined);
  assert.equal(c.get("a", 3)?.keyId, "a");
  assert.equal(c.get("c", 3)?.keyId, "c");
});

Deno.test("a kept key lives until the TTL or its own expiry, whichever is first", () => {
  const { cache: c } = cache({ ttlMs: 1_000 });
  c.set("long", key("long"), null, c.epoch, 0);
  c.set("short", key("short"), 400, c.epoch, 0);
  assert.equal(c.get("short", 399)?.keyId, "short");
  assert.equal(c.get("short", 400), undefined);
  assert.equal(c.get("long", 999)?.keyId, "long");
  assert.equal(c.get("long", 1_000), undefined);
  assert.equal(c.size, 0);
});

Deno.test("revocations drop what they reach, and a lookup that overlapped one is not kept", async () => {
  const { bus, cache: c } = cache();
  c.set("k1", key("k1", "u1"), null, c.epoch, 0);
  c.set("k2", key("k2", "u1"), null, c.epoch, 0);
  c.set("k3", key("k3", "u2"), null, c.epoch, 0);
  await bus.announce({ kind: "sessions", userId: "u1" });
  assert.equal(c.size, 3, "signing sessions out leaves keys alone");
  await bus.announce({ kind: "api_key", keyId: "k1" });
  assert.deepEqual([c.get("k1", 0), c.get("k2", 0)?.keyId], [undefined, "k2"]);
  await bus.announce({ kind: "role", userId: "u1" });
  assert.equal(c.get("k2", 0), undefined);
  await bus.announce({ kind: "user", userId: "u2" });
  assert.equal(c.size, 0);

  // Read before a lookup; the revocation is heard while it runs; its answer is dropped.
  const epoch = c.epoch;
  await bus.announce({ kind: "api_key", keyId: "k4" });
  c.set("k4", key("k4"), null, epoch, 0);
  assert.equal(c.size, 0);

  c.close();
  await bus.announce({ kind: "api_key", keyId: "k5" });
  c.set("k5", key("k5"), null, c.epoch, 0);
  assert.equal(c.get("k5", 0)?.keyId, "k5");
});
