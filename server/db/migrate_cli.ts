/**
 * `deno task migrate`: brings the database at DATABASE_URL up to date, or, when it is unset,
 * the embedded one in TASKMESH_DATA_DIR (`.data` by default), the same one `deno task start` uses.
 */
import { createLogger } from "../log.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate } from "./migrate.ts";
import { connectPostgres } from "./postgres.ts";

export async function runMigrateCli(
  env: { get(name: string): string | undefined } = Deno.env,
): Promise<string[]> {
  // Only problems go to the JSON log; what was applied is printed for a person to read.
  const log = createLogger({ level: "warn" });
  const url = env.get("DATABASE_URL");
  const embedded = url
    ? null
    : await startEmbeddedPostgres({ dataDir: env.get("TASKMESH_DATA_DIR") ?? ".data", log });
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
    : `the embedded database in ${Deno.env.get("TASKMESH_DATA_DIR") ?? ".data"}`;
  try {
    const applied = await runMigrateCli();
    if (applied.length === 0) console.log(`${where} is up to date: nothing to apply`);
    for (const file of applied) console.log(`applied ${file} to ${where}`);
  } catch (error) {
    console.error(`migrate failed on ${where}: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
