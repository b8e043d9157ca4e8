import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { startEmbeddedPostgres } from "../db/embedded.ts";
import { connectPostgres } from "../db/postgres.ts";
import { createTestDatabase } from "../db/testing.ts";
import { readCatalogue, seedCatalogue } from "./seed.ts";

Deno.test("the starter catalogue loads idempotently", async (t) => {
  const db = await createTestDatabase();
  try {
    const catalogue = await readCatalogue();
    const first = await seedCatalogue(db.sql, catalogue, new ManualClock());

    await t.step("the first run creates the hierarchy with aliases", async () => {
      assert.ok(first.created > 100, `created ${first.created}`);
      assert.equal(first.existing, 0);
      assert.deepEqual(first.aliasesSkipped, []);
      const [django] = await db.sql<{ path: string }[]>`
        with recursive up (id, parent_id, name, depth) as (
          select id, parent_id, name, 0 from tags where name = 'Django'
          union all
          select p.id, p.parent_id, p.name, up.depth + 1 from up join tags p on p.id = up.parent_id
        )
        select string_agg(name, ' > ' order by depth desc) as path from up`;
      assert.equal(django.path, "Programming languages > Python > Django");
      const [golang] = await db.sql<{ name: string }[]>`
        select t.name from tag_names n join tags t on t.id = n.tag_id where n.name_key = 'golang'`;
      assert.equal(golang.name, "Go");
    });

    await t.step("a second run adds nothing", async () => {
      const again = await seedCatalogue(db.sql, catalogue, new ManualClock());
      assert.equal(again.created, 0);
      assert.equal(again.aliasesAdded, 0);
      assert.equal(again.existing, first.created);
      const [{ n }] = await db.sql<
        { n: number }[]
      >`select count(*)::int as n from audit_log where action = 'tag.seed'`;
      assert.equal(n, 1);
    });

    await t.step("a deleted tag comes back; an edited one is left alone", async () => {
      await db.sql`update tags set description = 'ours' where name = 'Python'`;
      await db.sql`delete from tags where name = 'Flask'`;
      const again = await seedCatalogue(db.sql, catalogue, new ManualClock());
      assert.equal(again.created, 1);
      const [python] = await db.sql<
        { description: string }[]
      >`select description from tags where name = 'Python'`;
      assert.equal(python.description, "ours");
    });
  } finally {
    await db.drop();
  }
});

Deno.test("deno task seed without DATABASE_URL seeds the embedded database in TASKMESH_DATA_DIR", {
  sanitizeResources: false,
}, async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-seed-" });
  try {
    const env = Deno.env.toObject();
    delete env.DATABASE_URL;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./seed.ts", import.meta.url).pathname],
      env: { ...env, TASKMESH_DATA_DIR: dataDir },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(result.msg, "tag catalogue seeded");
    // The tags are in the folder's database, which nothing holds any more.
    const db = await startEmbeddedPostgres({ dataDir: `${dataDir}/pg` });
    const sql = connectPostgres(db.url, { max: 1 });
    try {
      const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from tags`;
      assert.equal(count, result.created);
    } finally {
      await sql.end();
      await db.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
