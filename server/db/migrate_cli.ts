/**
 * `deno task migrate`: brings the database at DATABASE_URL up to date, or, when it is unset,
 * the embedded one in TASKMESH_DATA_DIR (`.data` by default), the same one `deno task start`
 * uses: through the running server when one holds it, so nothing is written to a second copy.
 */
import { join } from "node:path";
import { createLogger } from "../log.ts";
import { openEmbeddedPostgres } from "./embedded.ts";
import { migrate } from "./migrate.ts";
import { connectPostgres } from "./postgres.ts";

export async function runMigrateCli(
  env: { get(name: string): string | undefined } = Deno.env,
  /** Told the pid of the running server when the migration goes through it. */
  onShared: (pid: number) => void = () => {},
): Promise<string[]> {
  // Only problems go to the JSON log; what was applied is printed for a person to read.
  const log = createLogger({ level: "warn" });
  const url = env.get("DATABASE_URL");
  const embedded = url ? null : await openEmbeddedPostgres({
    dataDir: join(env.get("TASKMESH_DATA_DIR") ?? ".data", "pg"),
    log,
    holder: "deno task migrate",
  });
  if (embedded?.sharedWith) onShared(embedded.sharedWith.pid);
  try {
    const sql = connectPostgres(url ?? embedded!.url, { max: 1, log });
    try {
      const { applied } = await migrate(sql, { log });
      return applied;
    } finally {
      await sql.end();
    }
  } finally {
    await embedded?.stop();
  }
}

if (import.meta.main) {
  const where = Deno.env.get("DATABASE_URL")
    ? "DATABASE_URL"
    : `the embedded database in ${join(Deno.env.get("TASKMESH_DATA_DIR") ?? ".data", "pg")}`;
  try {
    const applied = await runMigrateCli(
      Deno.env,
      (pid) => console.log(`using the embedded database of the running taskmesh (pid ${pid})`),
    );
    if (applied.length === 0) console.log(`${where} is up to date: nothing to apply`);
    for (const file of applied) console.log(`applied ${file} to ${where}`);
  } catch (error) {
    console.error(`migrate failed on ${where}: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
