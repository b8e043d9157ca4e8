import assert from "node:assert/strict";
import { migrate } from "../db/migrate.ts";
import { countingPool, createEmptyTestSchema, createTestDatabase, dropTestSchema } from "../db/testing.ts";
import { createTaskStore } from "./pg_store.ts";
import { newTask, T0 } from "./pg_store_testing.ts";
import { SealedCache, sealedIdOf, sealedReference } from "./sealed_payloads.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("a sealed reference is recognised, and nothing else is", () => {
  const id = crypto.randomUUID();
  assert.equal(sealedIdOf(sealedReference(id)), id);
  for (
    const other of [
      '{"to":"a@example.com"}',
      '{"$sealed":"not-an-id"}',
      '{"$sealed":5}',
      '{"$sealed":"' + id + '"',
      "",
    ]
  ) assert.equal(sealedIdOf(encoder.encode(other)), undefined, other);
});

Deno.test("migration 0005 seals the pending auth mails and strips the finished ones of their tokens", async () => {
  const { sql, schema } = await createEmptyTestSchema();
  const dir = await Deno.makeTempDir({ prefix: "taskmesh_0005_" });
  try {
    const all = new URL("../db/migrations/", import.meta.url);
    for await (const entry of Deno.readDir(all)) {
      if (entry.name < "0005") await Deno.copyFile(new URL(entry.name, all), `${dir}/${entry.name}`);
    }
    await migrate(sql, { dir: new URL(`file://${dir}/`) });
    const token = "tok_" + crypto.randomUUID().replaceAll("-", "");
    const mail = JSON.stringify({ to: "a@example.com", subject: "Reset", text: `?token=${token}` });
    const rows = [
      ["queued", "email.send", { source: "auth" }],
      ["succeeded", "email.send", { source: "auth" }],
      ["dead", "email.send", { source: "auth" }],
      ["queued", "email.send", { source: "campaign" }],
      ["queued", "other", { source: "auth" }],
    ] as const;
    const ids: string[] = [];
    await sql`insert into queues (name, created_at, updated_at) values ('emails', now(), now())`;
    for (const [state, type, labels] of rows) {
      const id = crypto.randomUUID();
      ids.push(id);
      await sql`
        insert into tasks (id, queue, type, payload, priority, state, max_attempts, backoff_initial_ms,
          backoff_max_ms, backoff_multiplier, timeout_ms, labels, run_at, created_at, updated_at)
        values (${id}, 'emails', ${type}, ${encoder.encode(mail)}, 0, ${state}, 5, 1000, 1000, 2, 1000,
          ${sql.json(labels)}, now(), now(), now())`;
    }
    await Deno.copyFile(
      new URL("0005_no_secrets_in_tasks.sql", all),
      `${dir}/0005_no_secrets_in_tasks.sql`,
    );
    await migrate(sql, { dir: new URL(`file://${dir}/`) });

    const payloads = new Map(
      (await sql<{ id: string; payload: Uint8Array }[]>`select id, payload from tasks`).map((r) => [
        r.id,
        decoder.decode(r.payload),
      ]),
    );
    const [pending, succeeded, dead, campaign, other] = ids.map((id) => payloads.get(id)!);
    const sealedId = sealedIdOf(encoder.encode(pending));
    assert.ok(sealedId, `the pending auth mail is sealed: ${pending}`);
    const [sealed] = await sql<
      { body: Uint8Array }[]
    >`select body from sealed_payloads where id = ${sealedId}`;
    assert.equal(decoder.decode(sealed.body), mail, "the sealed mail is the mail as it was");
    for (const done of [succeeded, dead]) {
      assert.ok(!done.includes(token), "a finished auth mail keeps no token");
      assert.match(done, /\$redacted/);
    }
    assert.equal(campaign, mail, "mails not from auth are not touched");
    assert.equal(other, mail, "other task types are not touched");
  } finally {
    await sql.end();
    await dropTestSchema(schema);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a batch's secrets are sealed in one statement, and opened without a read by the instance that sealed them", async () => {
  const db = await createTestDatabase();
  const { sql: counted, statements } = countingPool(db.url);
  try {
    const store = createTaskStore(counted);
    // The second is ~1.5 KB: Postgres breaks its base64 every 76 characters on the way back.
    const bodies = [0, 1, 2].map((i) =>
      encoder.encode(
        JSON.stringify({ to: `m${i}@example.com`, token: `t${i}`, html: "<p>é</p>".repeat(i * 180) }),
      )
    );
    const sealIds = bodies.map(() => crypto.randomUUID());
    const tasks = bodies.map((body, i) =>
      newTask({
        queue: "emails",
        payload: sealedReference(sealIds[i]),
        sealed: { id: sealIds[i], body, expiresAt: T0 + 60_000 },
      })
    );
    statements.length = 0;
    const { tasks: stored } = await store.enqueue(tasks, T0);
    assert.equal(statements.filter((s) => /sealed_payloads/.test(s)).length, 1, statements.join("\n---\n"));

    // The sealing instance: its Assigns open the secrets from memory, each for its own task only.
    statements.length = 0;
    const copy = { ...stored[1], id: crypto.randomUUID(), payload: stored[0].payload };
    const opened = await store.openPayloads([stored[0], stored[2], copy], T0 + 1);
    assert.deepEqual(
      opened.slice(0, 2).map((t) => decoder.decode(t.payload)),
      [bodies[0], bodies[2]].map((b) => decoder.decode(b)),
    );
    assert.equal(
      decoder.decode(opened[2].payload),
      decoder.decode(stored[0].payload),
      "another task's reference stays shut",
    );
    assert.equal(
      statements.filter((s) => /sealed_payloads/.test(s)).length,
      1,
      "only the copy was looked up",
    );

    // Another instance (or this one after the first Assign) reads them from Postgres, alike.
    const other = createTaskStore(db.sql);
    const again = await other.openPayloads([stored[0], stored[1]], T0 + 1);
    assert.deepEqual(
      again.map((t) => decoder.decode(t.payload)),
      [bodies[0], bodies[1]].map((b) => decoder.decode(b)),
    );
    assert.ok(bodies[1].length > 1000, `${bodies[1].length} bytes`);
    assert.deepEqual(again[1].payload, bodies[1], "the long one byte for byte");
    // Expired: shut, from memory as from Postgres.
    const late = await store.openPayloads([stored[1]], T0 + 60_001);
    assert.equal(decoder.decode(late[0].payload), decoder.decode(stored[1].payload));
  } finally {
    await counted.end();
    await db.drop();
  }
});

Deno.test("the sealed cache opens an entry once, for its own reference, unexpired, and stays bounded", () => {
  const cache = new SealedCache(4, 1000);
  const body = encoder.encode("secret");
  cache.put("t1", { id: "s1", body, expiresAt: 100 }, 0);
  assert.equal(cache.take("t1", "s2", 50), undefined, "another reference opens nothing");
  assert.equal(cache.take("t1", "s1", 50), undefined, "and the entry is gone after a take");
  cache.put("t2", { id: "s2", body, expiresAt: 100 }, 0);
  assert.equal(cache.take("t2", "s2", 100), undefined, "expired");
  cache.put("t3", { id: "s3", body, expiresAt: 100 }, 0);
  assert.equal(cache.take("t3", "s3", 99), body);
  for (let i = 0; i < 5; i++) cache.put(`n${i}`, { id: `s${i}`, body, expiresAt: 100 }, 0);
  assert.ok(cache.size <= 4, `${cache.size} entries`);
  assert.equal(cache.take("n4", "s4", 0), body, "the newest is kept");
  assert.equal(cache.take("n0", "s0", 0), undefined, "the oldest went");
  const big = new SealedCache(100, 10);
  for (let i = 0; i < 5; i++) big.put(`b${i}`, { id: "s", body: new Uint8Array(4), expiresAt: 100 }, 0);
  assert.ok(big.size <= 2, `${big.size} entries of 4 bytes under 10 bytes`);
  // Kept no longer than its age limit, nor past its expiry, even when never taken.
  const aging = new SealedCache(100, 1000, 1000);
  aging.put("old", { id: "s", body, expiresAt: 10_000 }, 0);
  aging.put("soon", { id: "s", body, expiresAt: 1_500 }, 1_000);
  aging.put("new", { id: "s", body, expiresAt: 10_000 }, 1_600);
  assert.equal(aging.size, 1, "the one past its age and the one past its expiry went");
  assert.equal(aging.take("new", "s", 1_600), body);
});
