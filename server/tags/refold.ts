/**
 * Finishes what migration 0006 started: name keys written before full case folding
 * (lower-cased only) are re-keyed with nameKey, and slugs that fell back to "tag-N" for
 * names without Latin letters get their readable slug. SQL folds only ASCII exactly, so the
 * migration re-keyed those and left the rest (name_key_folded false) to this step, which
 * the server runs at start. It is cheap when nothing is left, and safe to run twice or on
 * several instances at once (each row changes under the tag-tree lock, once).
 *
 * Two names that lower-casing kept apart but folding joins ("Straße" and "STRASSE") cannot
 * both hold the folded key: the first keeps it, the other keeps its old key and is named
 * in a warning at every start until an admin renames it, merges it, or makes it an alias.
 */
import postgres from "postgres";
import type { Logger } from "../log.ts";
import { nameKey, pickSlug, slugBase } from "./_names.ts";
import { type Db, lockTagTree, selectTakenSlugs } from "./queries.ts";

export interface RefoldResult {
  /** Rows re-keyed: tags (with their primary names), aliases, suggestions. */
  refolded: number;
  /** Rows whose folded key another row holds; they keep their old key. */
  collisions: number;
}

const FALLBACK_SLUG = /^tag(-\d+)?$/;

function isUniqueViolation(error: unknown): boolean {
  return error instanceof postgres.PostgresError && error.code === "23505";
}

export async function refoldTagNames(sql: postgres.Sql, log: Logger): Promise<RefoldResult> {
  const result: RefoldResult = { refolded: 0, collisions: 0 };
  const attempt = async (what: Record<string, unknown>, change: (tx: Db) => Promise<boolean>) => {
    try {
      if (await sql.begin(async (tx) => (await lockTagTree(tx), await change(tx)))) result.refolded++;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      result.collisions++;
      log.warn(
        "tag name is the same as another under case folding and keeps its old key: rename it, or delete it and add its name as an alias of the other",
        what,
      );
    }
  };

  const tags = await sql<{ id: string; name: string }[]>`
    select id, name from tags where not name_key_folded order by created_at, id`;
  for (const tag of tags) {
    const key = nameKey(tag.name);
    await attempt({ tag_id: tag.id, name: tag.name, key }, async (tx) => {
      const [row] = await tx<{ slug: string }[]>`
        select slug from tags where id = ${tag.id} and not name_key_folded for update`;
      if (!row) return false;
      let slug = row.slug;
      const base = slugBase(tag.name);
      if (FALLBACK_SLUG.test(slug) && base !== "tag") {
        slug = pickSlug(base, await selectTakenSlugs(tx, base, tag.id));
      }
      await tx`
        update tag_names set name_key = ${key}, name_key_folded = true where tag_id = ${tag.id} and not is_alias`;
      await tx`update tags set name_key = ${key}, slug = ${slug}, name_key_folded = true where id = ${tag.id}`;
      return true;
    });
  }

  const aliases = await sql<{ tag_id: string; name: string; name_key: string }[]>`
    select tag_id, name, name_key from tag_names where is_alias and not name_key_folded order by created_at`;
  for (const alias of aliases) {
    const key = nameKey(alias.name);
    await attempt({ tag_id: alias.tag_id, alias: alias.name, key }, async (tx) => {
      const changed = await tx`
        update tag_names set name_key = ${key}, name_key_folded = true
        where name_key = ${alias.name_key} and not name_key_folded`;
      return changed.count > 0;
    });
  }

  const suggestions = await sql<{ id: string; name: string }[]>`
    select id, name from tag_suggestions where not name_key_folded order by seq`;
  for (const suggestion of suggestions) {
    const key = nameKey(suggestion.name);
    await attempt({ suggestion_id: suggestion.id, name: suggestion.name, key }, async (tx) => {
      const changed = await tx`
        update tag_suggestions set name_key = ${key}, name_key_folded = true
        where id = ${suggestion.id} and not name_key_folded`;
      return changed.count > 0;
    });
  }
  if (result.refolded > 0 || result.collisions > 0) log.info("tag name keys folded", { ...result });
  return result;
}
