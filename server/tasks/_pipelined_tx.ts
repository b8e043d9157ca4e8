/**
 * A transaction whose BEGIN travels with its first statements: `sql.begin` waits for
 * BEGIN's answer before it runs the body, so a body whose statements could all go at once
 * pays a round trip and a socket write for BEGIN alone. Here BEGIN is sent on a reserved
 * connection and the body's first statements, issued in the same turn, are pipelined
 * behind it in one write. Used for the finish of a batch of successes, the hot path at
 * concurrency 1, where each batch holds one result.
 */
import type { Sql } from "../db/postgres.ts";
import type { Db } from "./task_queries.ts";

/**
 * Runs `body` in one read-committed transaction, as `sql.begin` would: committed when it
 * resolves, rolled back when it (or any statement) fails. `body` must issue its first
 * statements before its first await for them to share BEGIN's write.
 */
export async function beginPipelined<T>(sql: Sql, body: (tx: Db) => Promise<T>): Promise<T> {
  const tx = await sql.reserve();
  let committed = false;
  try {
    // execute() sends now; the body's statements queue behind it on the same connection.
    const begin = tx`begin`.execute();
    const [, result] = await Promise.all([begin, body(tx)]);
    const commit = await tx`commit`;
    // A transaction that failed on the server turns COMMIT into ROLLBACK without an error.
    if (commit.command !== "COMMIT") {
      throw new Error(`the transaction ended with ${commit.command}, not COMMIT`);
    }
    committed = true;
    return result;
  } finally {
    if (!committed) await tx`rollback`.catch(() => {});
    tx.release();
  }
}
