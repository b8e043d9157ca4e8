/**
 * Applies the append-only SQL migrations in `server/db/migrations/` to the current schema
 * (the first on the search_path), once each, however many processes start at the same time.
 */
import type { Logger } from "../log.ts";
import type { Sql } from "./postgres.ts";

export interface MigrateOptions {
  log?: Logger;
  /** The folder of `NNNN_slug.sql` files; `server/db/migrations/` by default. Tests pass a temporary one. */
  dir?: URL;
}

export interface MigrationFile {
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

const DEFAULT_DIR = new URL("./migrations/", import.meta.url);
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// First half of the two-int advisory lock key: "tmig" in ASCII, so the lock is recognisable in pg_locks.
const LOCK_CLASS = 0x746d6967;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads and orders the migration files; a stray or misnamed `.sql` file is an error, not silently skipped. */
export async function readMigrations(dir: URL = DEFAULT_DIR): Promise<MigrationFile[]> {
  const base = dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  const files: MigrationFile[] = [];
  for await (const entry of Deno.readDir(base)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const match = FILE_PATTERN.exec(entry.name);
    if (!match) {
      throw new Error(
        `migration file name ${entry.name} is not NNNN_slug.sql: rename it (four digits, lower-case slug)`,
      );
    }
    // Line endings are normalised so a Windows checkout does not look like an edited migration.
    const sql = (await Deno.readTextFile(new URL(entry.name, base))).replaceAll("\r\n", "\n");
    files.push({ version: match[1], name: match[2], file: entry.name, sql, checksum: await sha256Hex(sql) });
  }
  files.sort((a, b) => a.version.localeCompare(b.version));
  for (let i = 1; i < files.length; i++) {
    if (files[i].version === files[i - 1].version) {
      throw new Error(
        `migrations ${files[i - 1].file} and ${files[i].file} share version ${
          files[i].version
        }: renumber the newer one`,
      );
    }
  }
  return files;
}

/** The advisory lock key for a schema, so test schemas migrating in parallel do not wait on each other. */
async function lockKey(schema: string): Promise<number> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(schema));
  return new DataView(digest).getInt32(0);
}

interface AppliedRow {
  version: string;
  name: string;
  checksum: string;
}

export async function migrate(sql: Sql, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const { log } = options;
  const files = await readMigrations(options.dir);
  // One session holds the lock and runs every migration: a session-level advisory lock belongs to
  // the connection, so the work must not wander to other pool connections that do not hold it.
  const conn = await sql.reserve();
  let locked = false;
  let key = 0;
  try {
    const [{ schema }] = await conn<{ schema: string | null }[]>`select current_schema() as schema`;
    if (schema === null) {
      throw new Error("no schema on the search_path exists: create the schema before migrating");
    }
    key = await lockKey(schema);
    await conn`select pg_advisory_lock(${LOCK_CLASS}::int4, ${key}::int4)`;
    locked = true;
    await conn`
      create table if not exists schema_migrations (
        version text primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
    const rows = await conn<AppliedRow[]>`
      select version, name, checksum from schema_migrations order by version`;
    const done = new Map(rows.map((row) => [row.version, row]));
    const known = new Set(files.map((f) => f.version));
    for (const row of rows) {
      if (!known.has(row.version)) {
        // A newer release may have migrated this database; running older code against it is allowed.
        log?.warn("database has a migration this build does not know", {
          version: row.version,
          name: row.name,
        });
      }
    }
    const applied: string[] = [];
    for (const file of files) {
      const row = done.get(file.version);
      if (row) {
        if (row.checksum !== file.checksum) {
          throw new Error(
            `migration ${file.file} changed after it was applied: migrations are append-only, add a new one`,
          );
        }
        continue;
      }
      // The reserved connection has no begin(), so the transaction is spelled out; the file runs
      // through the simple protocol because it holds several statements.
      await conn`begin`;
      try {
        // Checked again inside the transaction: on the embedded database every connection shares
        // one session, so the advisory lock cannot keep a second migrator in the same process out.
        const [again] = await conn`select 1 from schema_migrations where version = ${file.version}`;
        if (again) {
          await conn`commit`;
          continue;
        }
        await conn.unsafe(file.sql);
        await conn`
          insert into schema_migrations (version, name, checksum, applied_at)
          values (${file.version}, ${file.name}, ${file.checksum}, now())`;
        await conn`commit`;
      } catch (error) {
        await conn`rollback`.catch(() => {});
        const message = `migration ${file.file} failed: ${
          (error as Error).message
        }: fix the file and run again`;
        throw new Error(message, { cause: error });
      }
      applied.push(file.file);
      log?.info("migration applied", { migration: file.file, schema });
    }
    return { applied };
  } finally {
    if (locked) {
      await conn`select pg_advisory_unlock(${LOCK_CLASS}::int4, ${key}::int4)`.catch((error) => {
        // Ending the session releases the lock anyway; nothing more to do than say so.
        log?.warn("could not release the migration lock", { error });
      });
    }
    conn.release();
  }
}
