import assert from "node:assert/strict";
import postgres from "postgres";
import { createTestDatabase } from "./testing.ts";

Deno.test("createTestDatabase", async (t) => {
  await t.step("gives a migrated private schema and drops it", async () => {
    const db = await createTestDatabase();
    let dropped = false;
    try {
      assert.match(db.schema, /^t_[0-9a-f]{16}$/);
      const [{ schema }] = await db.sql<{ schema: string }[]>`select current_schema() as schema`;
      assert.equal(schema, db.schema);
      await db.sql`insert into audit_log (actor, action) values ('test', 'created')`;
      const rows = await db.sql`select actor, action, details from audit_log`;
      assert.deepEqual([...rows], [{ actor: "test", action: "created", details: {} }]);

      // The URL carries the schema, so a second pool sees the same rows.
      const other = postgres(db.url, { max: 1 });
      try {
        const [{ count }] = await other<{ count: number }[]>`select count(*)::int as count from audit_log`;
        assert.equal(count, 1);
      } finally {
        await other.end();
      }

      await db.drop();
      dropped = true;
      const check = postgres(db.url.split("?")[0], { max: 1 });
      try {
        const found = await check`select 1 from information_schema.schemata where schema_name = ${db.schema}`;
        assert.equal(found.length, 0);
      } finally {
        await check.end();
      }
    } finally {
      if (!dropped) await db.drop();
    }
  });
});
