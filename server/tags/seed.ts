/**
 * `deno task seed`: loads the starter catalogue (seed_catalogue.json) — languages with their
 * frameworks, skill levels, topics, domains, tools, concepts. Idempotent: a tag whose name
 * (or alias) already exists is left as it is, however an admin has changed it since, and its
 * listed children are added under it; running it twice adds nothing the second time.
 */
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { join } from "node:path";
import { openEmbeddedPostgres } from "../db/embedded.ts";
import { migrate } from "../db/migrate.ts";
import { connectPostgres, type Sql } from "../db/postgres.ts";
import type { TagTypeWord } from "./_convert.ts";
import { DESCRIPTION_MAX_CHARS, validateName, validateText } from "./_names.ts";
import { createTagLocked } from "./_tag_handlers.ts";
import {
  type Db,
  insertAlias,
  insertAuditEntry,
  lockTagTree,
  selectNameOwner,
  selectTagByNameKey,
} from "./queries.ts";

export interface CatalogueEntry {
  name: string;
  type: TagTypeWord;
  description?: string;
  aliases?: string[];
  children?: CatalogueEntry[];
}

export interface SeedResult {
  created: number;
  existing: number;
  aliasesAdded: number;
  /** Aliases left out because another tag already has that name. */
  aliasesSkipped: string[];
}

const TYPES = new Set<string>(["language", "skill_level", "topic", "framework", "tool", "domain", "concept"]);
const SEED_ACTOR = "system";

export async function readCatalogue(
  url: URL = new URL("./seed_catalogue.json", import.meta.url),
): Promise<CatalogueEntry[]> {
  const data = JSON.parse(await Deno.readTextFile(url)) as { tags?: CatalogueEntry[] };
  if (!Array.isArray(data.tags)) {
    throw new Error(`${url.pathname} has no "tags" list: see its $comment for the shape`);
  }
  return data.tags;
}

async function seedEntries(
  tx: Db,
  entries: CatalogueEntry[],
  parentId: string | null,
  at: Date,
  result: SeedResult,
): Promise<void> {
  for (const entry of entries) {
    if (!TYPES.has(entry.type)) {
      throw new Error(
        `catalogue entry "${entry.name}" has type "${entry.type}": use one of ${[...TYPES].join(", ")}`,
      );
    }
    const { name, key } = validateName(`catalogue entry "${entry.name}"`, entry.name);
    let tag = await selectTagByNameKey(tx, key);
    if (tag) {
      result.existing++;
    } else {
      tag = await createTagLocked(tx, {
        name,
        key,
        type: entry.type,
        parentId,
        description: validateText("description", entry.description ?? "", DESCRIPTION_MAX_CHARS),
        by: SEED_ACTOR,
        at,
        fields: { name: `catalogue entry "${entry.name}"`, parentId: "parent" },
      });
      result.created++;
    }
    for (const raw of entry.aliases ?? []) {
      const alias = validateName(`alias "${raw}" of "${entry.name}"`, raw);
      const owner = await selectNameOwner(tx, alias.key);
      if (owner?.tag_id === tag.id) continue;
      if (owner) {
        result.aliasesSkipped.push(alias.name);
        continue;
      }
      await insertAlias(tx, tag.id, alias.name, alias.key, at);
      result.aliasesAdded++;
    }
    await seedEntries(tx, entry.children ?? [], tag.id, at, result);
  }
}

/** Loads `catalogue` in one transaction under the tag-tree lock, with one audit row for what it added. */
export async function seedCatalogue(
  sql: Sql,
  catalogue: CatalogueEntry[],
  clock: Clock = systemClock,
): Promise<SeedResult> {
  const result: SeedResult = { created: 0, existing: 0, aliasesAdded: 0, aliasesSkipped: [] };
  const at = new Date(clock.now());
  await sql.begin(async (tx) => {
    await lockTagTree(tx);
    await seedEntries(tx, catalogue, null, at, result);
    if (result.created > 0 || result.aliasesAdded > 0) {
      await insertAuditEntry(tx, {
        actor: SEED_ACTOR,
        action: "tag.seed",
        target: "catalogue",
        details: { created: result.created, aliases_added: result.aliasesAdded },
        requestId: null,
        time: at,
      });
    }
  });
  return result;
}

/**
 * The database seed writes to: DATABASE_URL, or else the embedded one in TASKMESH_DATA_DIR
 * (through the running server when one holds it, so the seeded tags are the ones it lists).
 */
async function openSeedDatabase(
  env: Record<string, string | undefined>,
): Promise<{ url: string; sharedPid?: number; stop(): Promise<void> }> {
  const url = env.DATABASE_URL?.trim();
  if (url) return { url, stop: () => Promise.resolve() };
  const embedded = await openEmbeddedPostgres({
    dataDir: join(env.TASKMESH_DATA_DIR?.trim() || ".data", "pg"),
    holder: "deno task seed",
  });
  return { url: embedded.url, sharedPid: embedded.sharedWith?.pid, stop: () => embedded.stop() };
}

if (import.meta.main) {
  let db;
  try {
    db = await openSeedDatabase(Deno.env.toObject());
  } catch (error) {
    console.error(`seed: ${(error as Error).message}`);
    Deno.exit(1);
  }
  if (db.sharedPid) {
    console.error(`using the embedded database of the running taskmesh (pid ${db.sharedPid})`);
  }
  const sql = connectPostgres(db.url, { max: 2 });
  try {
    await migrate(sql);
    const result = await seedCatalogue(sql, await readCatalogue());
    console.log(JSON.stringify({ msg: "tag catalogue seeded", ...result }));
  } finally {
    await sql.end();
    await db.stop();
  }
}
