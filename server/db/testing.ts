/**
 * A private, fully migrated schema per test on the real Postgres at TEST_DATABASE_URL,
 * so tests run in parallel without seeing each other's rows.
 */
import postgres from "postgres";
import { migrate } from "./migrate.ts";
import { connectPostgres, type Sql } from "./postgres.ts";

export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  /** A pool whose search_path is `schema`. */
  sql: Sql;
  schema: string;
  /** A URL that `connectPostgres`/`postgres` opens with the same search_path, for a second pool or a child process. */
  url: string;
  /** Ends the pool and drops the schema with everything in it. */
  drop(): Promise<void>;
}

export function testDatabaseUrl(): string {
  return Deno.env.get("TEST_DATABASE_URL") ?? DEFAULT_TEST_DATABASE_URL;
}

/** A schema name that is a plain lower-case identifier, so it never needs quoting. */
export function randomSchemaName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return "t_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Adds `search_path` to a Postgres URL; the `postgres` driver sends unknown URL parameters at startup. */
export function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("search_path", schema);
  return parsed.href;
}

/** Creates an empty schema and returns a pool confined to it, without migrating. */
export async function createEmptyTestSchema(): Promise<{ sql: Sql; schema: string; url: string }> {
  const base = testDatabaseUrl();
  const schema = randomSchemaName();
  const admin = connectPostgres(base, { max: 1 });
  try {
    await admin`create schema ${admin(schema)}`;
  } finally {
    await admin.end();
  }
  return { sql: connectPostgres(base, { schema }), schema, url: withSearchPath(base, schema) };
}

export async function dropTestSchema(schema: string): Promise<void> {
  const admin = connectPostgres(testDatabaseUrl(), { max: 1 });
  try {
    await admin`drop schema if exists ${admin(schema)} cascade`;
  } finally {
    await admin.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const { sql, schema, url } = await createEmptyTestSchema();
  const drop = async () => {
    await sql.end();
    await dropTestSchema(schema);
  };
  try {
    await migrate(sql);
  } catch (error) {
    await drop();
    throw error;
  }
  return { sql, schema, url, drop };
}

/**
 * A one-connection pool on `url` that records the text of every statement it sends, for
 * tests that count round trips. One connection, so the driver's once-per-connection type
 * lookup happens during a test's warm-up only.
 */
export function countingPool(url: string): { sql: Sql; statements: string[] } {
  const statements: string[] = [];
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    debug: (_connection, query) => statements.push(query),
  });
  return { sql, statements };
}
