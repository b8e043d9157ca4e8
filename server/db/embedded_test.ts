import assert from "node:assert/strict";
import {
  EmbeddedInUseError,
  findEmbeddedHolder,
  holderFilePath,
  openEmbeddedPostgres,
  startEmbeddedPostgres,
} from "./embedded.ts";
import { migrate, readMigrations } from "./migrate.ts";
import { connectPostgres } from "./postgres.ts";

Deno.test("embedded Postgres", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh_pglite_" });
  try {
    await t.step("migrates and serves concurrent queries and transactions to one pool", async () => {
      const db = await startEmbeddedPostgres({ dataDir });
      const sql = connectPostgres(db.url, { max: 6 });
      try {
        const files = await readMigrations();
        assert.deepEqual((await migrate(sql)).applied, files.map((f) => f.file));

        // Reads, failing statements and transactions from many pool connections at once: a message
        // of one connection run inside another's exchange shows up as a wrong row or an error.
        await Promise.all(Array.from({ length: 60 }, async (_, i) => {
          if (i % 3 === 0) {
            const rows = await sql<{ n: number; s: string }[]>`select ${i}::int as n, ${"x" + i} as s`;
            assert.deepEqual([...rows], [{ n: i, s: "x" + i }]);
          } else if (i % 3 === 1) {
            await assert.rejects(sql`select 1 / ${0}::int`, /division by zero/);
          } else {
            const work = sql.begin(async (tx) => {
              await tx`insert into audit_log (actor, action, target) values ('test', 'write', ${String(i)})`;
              const [{ count }] = await tx<{ count: number }[]>`
                select count(*)::int as count from audit_log where target = ${String(i)}`;
              assert.equal(count, 1);
              // Every other transaction rolls back: its row must never be seen.
              if (i % 2 === 1) throw new Error("roll back");
            });
            if (i % 2 === 1) await assert.rejects(work, /roll back/);
            else await work;
          }
        }));
        const kept = await sql<{ target: string }[]>`select target from audit_log order by target::int`;
        const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 === 2 && i % 2 === 0);
        assert.deepEqual(kept.map((r) => Number(r.target)), expected);
      } finally {
        await sql.end();
        await db.stop();
      }
    });

    await t.step("a client that vanishes inside a transaction does not block the others", async () => {
      const db = await startEmbeddedPostgres({ dataDir, maxConnections: 4 });
      const sql = connectPostgres(db.url, { max: 2 });
      const doomed = connectPostgres(db.url, { max: 1 });
      try {
        const conn = await doomed.reserve();
        await conn`begin`;
        await conn`insert into audit_log (actor, action) values ('doomed', 'never committed')`;
        // Ending the pool closes the socket with the transaction still open.
        await doomed.end({ timeout: 0 });
        const [{ count }] = await sql<{ count: number }[]>`
          select count(*)::int as count from audit_log where actor = 'doomed'`;
        assert.equal(count, 0);

        // Past maxConnections a client gets a Postgres error, not a hang.
        const crowd = connectPostgres(db.url, { max: 4 });
        try {
          const results = await Promise.allSettled(
            Array.from({ length: 4 }, () => crowd`select 1`),
          );
          const refused = results.filter((r) => r.status === "rejected");
          assert.ok(refused.length >= 1, "some connection should have been refused");
          assert.match(String((refused[0] as PromiseRejectedResult).reason), /too many clients/);
        } finally {
          await crowd.end();
        }
      } finally {
        await sql.end();
        await db.stop();
      }
    });

    await t.step("a later start on the same folder finds the data", async () => {
      const db = await startEmbeddedPostgres({ dataDir });
      const sql = connectPostgres(db.url, { max: 2 });
      try {
        assert.deepEqual(await migrate(sql), { applied: [] });
        const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from audit_log`;
        assert.equal(count, 10); // 2, 8, 14, ... 56
      } finally {
        await sql.end();
        await db.stop();
      }
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("embedded Postgres: one holder per folder, and a crashed holder's file is stale", async () => {
  const dataDir = `${await Deno.makeTempDir({ prefix: "taskmesh_pglite_holder_" })}/pg`;
  const file = holderFilePath(dataDir);
  // A holder that crashed: its port closed, its pid long gone.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(
    file,
    JSON.stringify({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, pid: 2 ** 22 + 1, holder: "x" }),
  );
  assert.equal(await findEmbeddedHolder(dataDir), undefined);

  const db = await startEmbeddedPostgres({ dataDir, holder: "first" });
  try {
    const holder = await findEmbeddedHolder(dataDir);
    assert.equal(holder?.pid, Deno.pid);
    assert.equal(holder?.url, db.url);
    // A second opener of the folder is refused; a sharing one gets the holder's URL.
    await assert.rejects(startEmbeddedPostgres({ dataDir }), EmbeddedInUseError);
    const shared = await openEmbeddedPostgres({ dataDir });
    assert.equal(shared.url, db.url);
    assert.equal(shared.sharedWith?.holder, "first");
    await shared.stop();
    const sql = connectPostgres(shared.url, { max: 1 });
    assert.deepEqual([...await sql`select 1 as one`], [{ one: 1 }]);
    await sql.end();
  } finally {
    await db.stop();
  }
  await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
  await Deno.remove(dataDir.replace(/\/pg$/, ""), { recursive: true });
});
