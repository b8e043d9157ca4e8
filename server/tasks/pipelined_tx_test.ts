import assert from "node:assert/strict";
import { connectPostgres } from "../db/postgres.ts";
import { createEmptyTestSchema, dropTestSchema, testDatabaseUrl } from "../db/testing.ts";
import { beginPipelined } from "./_pipelined_tx.ts";

Deno.test("beginPipelined: one transaction, BEGIN sent with the body's first statements", async (t) => {
  const { sql: setup, schema } = await createEmptyTestSchema();
  // One connection: each case runs on the connection the previous one released.
  const sql = connectPostgres(testDatabaseUrl(), { schema, max: 1 });
  try {
    await setup`create table marks (x int primary key)`;
    const marks = async () => (await sql<{ x: number }[]>`select x from marks order by x`).map((r) => r.x);

    await t.step(
      "statements issued at once run in one transaction, committed when the body resolves",
      async () => {
        const result = await beginPipelined(sql, async (tx) => {
          const [first, , second] = await Promise.all([
            tx<{ id: string }[]>`select pg_current_xact_id()::text as id`,
            tx`insert into marks values (1)`,
            tx<{ id: string }[]>`select pg_current_xact_id()::text as id`,
          ]);
          return [first[0].id, second[0].id];
        });
        assert.equal(result[0], result[1], "both statements saw the same transaction");
        assert.deepEqual(await marks(), [1]);
      },
    );

    await t.step("a failing statement rolls everything back and leaves the connection usable", async () => {
      await assert.rejects(
        beginPipelined(sql, async (tx) => {
          await Promise.all([tx`insert into marks values (2)`, tx`insert into marks values (1)`]);
        }),
        /duplicate key/,
      );
      assert.deepEqual(await marks(), [1]);
      await beginPipelined(sql, async (tx) => void await tx`insert into marks values (3)`);
      assert.deepEqual(await marks(), [1, 3]);
    });

    await t.step("a body that swallows a statement's error does not pass for committed", async () => {
      await assert.rejects(
        beginPipelined(sql, async (tx) => {
          await tx`insert into marks values (4)`;
          await tx`insert into marks values (1)`.catch(() => {});
        }),
        /ended with ROLLBACK, not COMMIT/,
      );
      assert.deepEqual(await marks(), [1, 3]);
    });
  } finally {
    await sql.end();
    await setup.end();
    await dropTestSchema(schema);
  }
});
