import assert from "node:assert/strict";
import { migrate, readMigrations } from "./migrate.ts";
import { connectPostgres } from "./postgres.ts";
import { createEmptyTestSchema, dropTestSchema, testDatabaseUrl } from "./testing.ts";
import { createMemoryLogger } from "../log.ts";

async function withTempDir(fn: (dir: URL) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "taskmesh_migrations_" });
  try {
    await fn(new URL(`file://${path}/`));
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

Deno.test("migrate", async (t) => {
  await t.step("two migrators racing on one schema apply each migration once", async (t) => {
    const { sql: first, schema } = await createEmptyTestSchema();
    const second = connectPostgres(testDatabaseUrl(), { schema });
    try {
      const files = await readMigrations();
      assert.ok(files.length >= 1);
      const [a, b] = await Promise.all([migrate(first), migrate(second)]);
      // Whichever got the lock first did all the work; the other found nothing left.
      assert.deepEqual([...a.applied, ...b.applied].sort(), files.map((f) => f.file));
      assert.deepEqual([a.applied.length, b.applied.length].sort(), [0, files.length]);
      const rows = await first<{ version: string; n: number }[]>`
        select version, count(*)::int as n from schema_migrations group by version order by version`;
      assert.deepEqual(rows.map((r) => [r.version, r.n]), files.map((f) => [f.version, 1]));

      await t.step("a re-run applies nothing", async () => {
        assert.deepEqual(await migrate(second), { applied: [] });
      });
    } finally {
      await Promise.all([first.end(), second.end()]);
      await dropTestSchema(schema);
    }
  });

  await t.step("a migration edited after it was applied is refused", async () => {
    const { sql, schema } = await createEmptyTestSchema();
    try {
      await withTempDir(async (dir) => {
        await Deno.writeTextFile(new URL("0001_first.sql", dir), "create table thing (id int);");
        const log = createMemoryLogger();
        assert.deepEqual(await migrate(sql, { dir, log }), { applied: ["0001_first.sql"] });
        assert.equal(log.lines.filter((l) => l.msg === "migration applied").length, 1);

        await Deno.writeTextFile(new URL("0001_first.sql", dir), "create table thing (id bigint);");
        await assert.rejects(migrate(sql, { dir }), {
          message:
            "migration 0001_first.sql changed after it was applied: migrations are append-only, add a new one",
        });
      });
    } finally {
      await sql.end();
      await dropTestSchema(schema);
    }
  });

  await t.step("a failing migration leaves nothing behind and names the file", async () => {
    const { sql, schema } = await createEmptyTestSchema();
    try {
      await withTempDir(async (dir) => {
        await Deno.writeTextFile(new URL("0001_ok.sql", dir), "create table ok (id int);");
        await Deno.writeTextFile(
          new URL("0002_broken.sql", dir),
          "create table half (id int);\ninsert into nowhere values (1);",
        );
        await assert.rejects(migrate(sql, { dir }), /^Error: migration 0002_broken.sql failed: /);
        const tables = await sql<{ name: string }[]>`
          select table_name as name from information_schema.tables
          where table_schema = ${schema} order by table_name`;
        assert.deepEqual(tables.map((r) => r.name), ["ok", "schema_migrations"]);
        const versions = await sql<{ version: string }[]>`select version from schema_migrations`;
        assert.deepEqual(versions.map((r) => r.version), ["0001"]);
      });
    } finally {
      await sql.end();
      await dropTestSchema(schema);
    }
  });

  await t.step("misnamed and duplicate files are rejected before touching the database", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(new URL("1_first.sql", dir), "select 1;");
      await assert.rejects(
        readMigrations(dir),
        /^Error: migration file name 1_first.sql is not NNNN_slug.sql/,
      );
    });
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(new URL("0001_a.sql", dir), "select 1;");
      await Deno.writeTextFile(new URL("0001_b.sql", dir), "select 1;");
      await assert.rejects(readMigrations(dir), /share version 0001/);
    });
  });

  await t.step("a schema that does not exist is reported", async () => {
    const sql = connectPostgres(testDatabaseUrl(), { schema: "t_does_not_exist", max: 1 });
    try {
      await assert.rejects(migrate(sql), /no schema on the search_path exists/);
    } finally {
      await sql.end();
    }
  });
});
