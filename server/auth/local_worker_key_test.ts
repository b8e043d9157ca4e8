import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { createTestDatabase } from "../db/testing.ts";
import { createAdmin } from "./first_admin.ts";
import { LOCAL_WORKER_KEY_NAME, localWorkerKey, localWorkerKeyPath } from "./local_worker_key.ts";

Deno.test("deno task start reuses one local worker key, stored 0600, and revokes the one it replaces", async (t) => {
  const db = await createTestDatabase();
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-local-key-" });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const deps = { sql: db.sql, clock, dataDir };
  const live = async () =>
    (await db.sql<{ id: string }[]>`
      select id from api_keys where name = ${LOCAL_WORKER_KEY_NAME} and revoked_at is null`).map((r) => r.id);
  try {
    await createAdmin(deps, { email: "admin@example.com", password: "correct horse battery staple" });
    const first = await localWorkerKey(deps);

    await t.step("the first start makes a key and stores it readable only by its owner", async () => {
      assert.equal(first.reused, false);
      const info = await Deno.stat(localWorkerKeyPath(dataDir));
      assert.equal(info.mode! & 0o777, 0o600);
      const stored = JSON.parse(await Deno.readTextFile(localWorkerKeyPath(dataDir)));
      assert.equal(stored.secret, first.secret);
    });

    await t.step("later starts reuse it: no key piles up", async () => {
      for (let i = 0; i < 3; i++) {
        clock.advance(86_400_000);
        const again = await localWorkerKey(deps);
        assert.deepEqual(again, { ...first, reused: true });
      }
      assert.deepEqual(await live(), [first.id]);
    });

    await t.step("a revoked key is replaced", async () => {
      await db.sql`update api_keys set revoked_at = ${new Date(clock.now())} where id = ${first.id}`;
      const next = await localWorkerKey(deps);
      assert.equal(next.reused, false);
      assert.notEqual(next.secret, first.secret);
      assert.deepEqual(await live(), [next.id]);
    });

    await t.step("a key close to its expiry is replaced, and the old one revoked", async () => {
      const current = await localWorkerKey(deps);
      assert.equal(current.reused, true);
      clock.advance(25 * 86_400_000);
      const renewed = await localWorkerKey(deps);
      assert.equal(renewed.reused, false);
      assert.deepEqual(await live(), [renewed.id], "the replaced key is revoked");
    });
  } finally {
    await db.drop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
