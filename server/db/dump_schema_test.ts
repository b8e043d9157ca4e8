import assert from "node:assert/strict";
import { dumpFreshSchema, dumpSchema, SCHEMA_DUMP_FILE } from "./dump_schema.ts";
import { createTestDatabase } from "./testing.ts";

Deno.test("schema dump", async (t) => {
  await t.step("server/db/schema.sql matches the migrations", async () => {
    const fresh = await dumpFreshSchema();
    const committed = await Deno.readTextFile(SCHEMA_DUMP_FILE).catch(() => "");
    if (fresh !== committed) {
      assert.fail(
        "server/db/schema.sql is out of date with server/db/migrations: run `deno task db:dump` and commit the result",
      );
    }
  });

  await t.step("the same schema dumps the same from two schemas, without their names", async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    try {
      const [dumpA, dumpB] = await Promise.all([dumpSchema(a.sql, a.schema), dumpSchema(b.sql, b.schema)]);
      assert.equal(dumpA, dumpB);
      assert.ok(!dumpA.includes(a.schema));
      assert.match(dumpA, /^create table audit_log \($/m);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});
