/**
 * SQL of the tag aggregate: tags, their names and aliases, the tree, and the audit rows
 * their changes write. Every read of the hierarchy is one recursive statement.
 */
import type postgres from "postgres";
import type { TagRow, TagTypeWord } from "./_convert.ts";

/** A pool or a transaction: the queries run on either. */
export type Db = postgres.ISql;

// First half of the advisory lock key: "tagt" in ASCII, recognisable in pg_locks. The second
// half is the schema's hash, so parallel test schemas do not serialise on one lock.
export const TAG_TREE_LOCK = 0x74616774;

/**
 * Serialises every change to the catalogue (names, aliases, parents) for the rest of the
 * transaction. Moves need it most: two moves that are each cycle-free alone (A under B, B
 * under A) together make a cycle, and no row lock covers "the path between them". With the
 * lock held, each later statement sees every earlier committed move (read committed takes a
 * fresh snapshot per statement), so the ancestry check cannot go stale. Admin writes are rare,
 * so one lock costs nothing worth a finer scheme.
 */
export async function lockTagTree(db: Db): Promise<void> {
  await db`select pg_advisory_xact_lock(${TAG_TREE_LOCK}::int4, hashtext(current_schema()))`;
}

/** The shared side of the tree lock: readers that must not race a rename or an alias (SuggestTag). */
export async function lockTagTreeShared(db: Db): Promise<void> {
  await db`select pg_advisory_xact_lock_shared(${TAG_TREE_LOCK}::int4, hashtext(current_schema()))`;
}

/** The columns of a TagRow for a query over `tags t`. */
export function tagColumns(db: Db): postgres.PendingQuery<postgres.Row[]> {
  return db`
    t.id, t.name, t.name_key, t.slug, t.type, t.parent_id, t.description,
    array(select n.name from tag_names n where n.tag_id = t.id and n.is_alias order by n.name_key) as aliases,
    t.created_by, t.updated_by, t.created_at, t.updated_at`;
}

export async function selectTagById(db: Db, id: string): Promise<TagRow | undefined> {
  const [row] = await db<TagRow[]>`select ${tagColumns(db)} from tags t where t.id = ${id}`;
  return row;
}

export async function selectTagBySlug(db: Db, slug: string): Promise<TagRow | undefined> {
  const [row] = await db<TagRow[]>`select ${tagColumns(db)} from tags t where t.slug = ${slug}`;
  return row;
}

/** The tag that has `key` as its name or one of its aliases. */
export async function selectTagByNameKey(db: Db, key: string): Promise<TagRow | undefined> {
  const [row] = await db<TagRow[]>`
    select ${tagColumns(db)} from tag_names n join tags t on t.id = n.tag_id where n.name_key = ${key}`;
  return row;
}

export interface NameOwner {
  tag_id: string;
  tag_name: string;
  name: string;
  is_alias: boolean;
}

/** Who holds a name key, to say so in an AlreadyExists error. */
export async function selectNameOwner(db: Db, key: string): Promise<NameOwner | undefined> {
  const [row] = await db<NameOwner[]>`
    select n.tag_id, t.name as tag_name, n.name, n.is_alias
    from tag_names n join tags t on t.id = n.tag_id where n.name_key = ${key}`;
  return row;
}

/** Slugs that are `base` or `base-<something>`; slugs hold only letters, digits, marks and "-", so LIKE needs no escaping. */
export async function selectTakenSlugs(db: Db, base: string, exceptTagId: string | null): Promise<string[]> {
  const rows = await db<{ slug: string }[]>`
    select slug from tags
    where (slug = ${base} or slug like ${base + "-%"}) and id is distinct from ${exceptTagId}::uuid`;
  return rows.map((r) => r.slug);
}

export interface NewTag {
  name: string;
  key: string;
  slug: string;
  type: TagTypeWord;
  parentId: string | null;
  description: string;
  by: string;
  at: Date;
}

/** Inserts the tag and its primary name in one statement; returns the new id. */
export async function insertTag(db: Db, tag: NewTag): Promise<string> {
  const [row] = await db<{ id: string }[]>`
    with t as (
      insert into tags (name, name_key, slug, type, parent_id, description, created_by, updated_by, created_at, updated_at)
      values (${tag.name}, ${tag.key}, ${tag.slug}, ${tag.type}, ${tag.parentId}, ${tag.description},
              ${tag.by}, ${tag.by}, ${tag.at}, ${tag.at})
      returning id
    )
    insert into tag_names (name_key, tag_id, name, is_alias, created_at)
    select ${tag.key}, t.id, ${tag.name}, false, ${tag.at} from t
    returning tag_id as id`;
  return row.id;
}

export interface TagChanges {
  name?: { name: string; key: string; slug: string };
  type?: TagTypeWord;
  description?: string;
  by: string;
  at: Date;
}

/** Applies the set fields; a new name replaces the primary name row (dropping an own alias it equals). */
export async function updateTag(db: Db, id: string, changes: TagChanges): Promise<void> {
  const { name, type, description, by, at } = changes;
  if (name) {
    await db`delete from tag_names where tag_id = ${id} and is_alias and name_key = ${name.key}`;
    await db`
      update tag_names set name_key = ${name.key}, name = ${name.name}
      where tag_id = ${id} and not is_alias`;
  }
  await db`
    update tags set
      name = coalesce(${name?.name ?? null}::text, name),
      name_key = coalesce(${name?.key ?? null}::text, name_key),
      slug = coalesce(${name?.slug ?? null}::text, slug),
      type = coalesce(${type ?? null}::text, type),
      description = coalesce(${description ?? null}::text, description),
      updated_by = ${by},
      updated_at = ${at}
    where id = ${id}`;
}

export interface PathStep {
  id: string;
  name: string;
}

/** The tag itself, then its parent, up to the root: the path a cycle check walks. */
export async function selectAncestorPath(db: Db, id: string): Promise<PathStep[]> {
  return await db<PathStep[]>`
    with recursive up (id, parent_id, name, depth) as (
      select t.id, t.parent_id, t.name, 0 from tags t where t.id = ${id}
      union all
      select p.id, p.parent_id, p.name, up.depth + 1 from up join tags p on p.id = up.parent_id
    )
    select id, name from up order by depth`;
}

export async function updateTagParent(db: Db, id: string, parentId: string | null, by: string, at: Date) {
  await db`update tags set parent_id = ${parentId}, updated_by = ${by}, updated_at = ${at} where id = ${id}`;
}

export async function countChildren(db: Db, id: string): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from tags where parent_id = ${id}`;
  return row.n;
}

/** Moves the children of `id` onto `newParentId`; returns their ids. */
export async function reparentChildren(
  db: Db,
  id: string,
  newParentId: string | null,
  by: string,
  at: Date,
): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    update tags set parent_id = ${newParentId}, updated_by = ${by}, updated_at = ${at}
    where parent_id = ${id} returning id`;
  return rows.map((r) => r.id);
}

/** The tag and all its descendants, parents before children. */
export async function selectSubtreeIds(db: Db, id: string): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    with recursive down (id, depth) as (
      select t.id, 0 from tags t where t.id = ${id}
      union all
      select c.id, down.depth + 1 from down join tags c on c.parent_id = down.id
    )
    select id from down order by depth`;
  return rows.map((r) => r.id);
}

/** Deletes the tags in one statement, so parent keys inside the set are checked only at its end. */
export async function deleteTags(db: Db, ids: string[]): Promise<void> {
  await db`delete from tags where id = any(${ids}::uuid[])`;
}

export async function insertAlias(db: Db, tagId: string, name: string, key: string, at: Date): Promise<void> {
  await db`
    insert into tag_names (name_key, tag_id, name, is_alias, created_at)
    values (${key}, ${tagId}, ${name}, true, ${at})`;
}

/** Removes an alias of the tag; returns whether there was one. */
export async function deleteAlias(db: Db, tagId: string, key: string): Promise<boolean> {
  const rows =
    await db`delete from tag_names where tag_id = ${tagId} and name_key = ${key} and is_alias returning 1`;
  return rows.length > 0;
}

export async function touchTag(db: Db, id: string, by: string, at: Date): Promise<void> {
  await db`update tags set updated_by = ${by}, updated_at = ${at} where id = ${id}`;
}

export interface TagFilters {
  type: TagTypeWord | null;
  parentId: string | null;
  rootsOnly: boolean;
  /** A name key prefix. */
  prefix: string;
}

/** One page of tags ordered by name key, after `afterKey`, plus one row that says whether more follow. */
export async function listTags(
  db: Db,
  f: TagFilters,
  afterKey: string | null,
  limit: number,
): Promise<TagRow[]> {
  return await db<TagRow[]>`
    select ${tagColumns(db)} from tags t
    where true
      ${f.type ? db`and t.type = ${f.type}` : db``}
      ${f.parentId ? db`and t.parent_id = ${f.parentId}` : f.rootsOnly ? db`and t.parent_id is null` : db``}
      ${
    // The range lets the name index serve the prefix; starts_with keeps it exact.
    f.prefix
      ? db`and t.name_key >= ${f.prefix} and t.name_key < ${f.prefix + "\u{10FFFF}"}
           and starts_with(t.name_key, ${f.prefix})`
      : db``}
      ${afterKey !== null ? db`and t.name_key > ${afterKey}` : db``}
    order by t.name_key
    limit ${limit + 1}`;
}

export interface TreeRow extends TagRow {
  depth: number;
  child_count: number;
}

/**
 * The whole catalogue (rootId null) or a subtree, depth first with siblings by name, each
 * node after its parent: one recursive statement. maxDepth 0 means no limit; at most
 * maxNodes + 1 rows come back, the extra one saying the tree is too large. Aliases and
 * child counts are joined from grouped scans rather than looked up per row: on a large tree
 * per-row subqueries inflate the plan's cost until JIT compilation outweighs the query.
 */
export async function selectTree(
  db: Db,
  rootId: string | null,
  maxDepth: number,
  maxNodes: number,
): Promise<TreeRow[]> {
  return await db<TreeRow[]>`
    with recursive tree (id, depth, path) as (
      select t.id, 0, array[t.name_key] from tags t
      where ${rootId === null ? db`t.parent_id is null` : db`t.id = ${rootId}`}
      union all
      select c.id, tree.depth + 1, tree.path || c.name_key
      from tree join tags c on c.parent_id = tree.id
      ${maxDepth > 0 ? db`where tree.depth < ${maxDepth}` : db``}
    ),
    children (parent_id, n) as (
      select parent_id, count(*)::int from tags where parent_id in (select id from tree) group by parent_id
    ),
    aliases (tag_id, names) as (
      select tag_id, array_agg(name order by name_key) from tag_names
      where is_alias and tag_id in (select id from tree) group by tag_id
    )
    select t.id, t.name, t.name_key, t.slug, t.type, t.parent_id, t.description,
      coalesce(a.names, '{}') as aliases, t.created_by, t.updated_by, t.created_at, t.updated_at,
      tree.depth, coalesce(c.n, 0) as child_count
    from tree
      join tags t on t.id = tree.id
      left join children c on c.parent_id = t.id
      left join aliases a on a.tag_id = t.id
    order by tree.path collate "C"
    limit ${maxNodes + 1}`;
}

export interface DepthRow extends TagRow {
  depth: number;
}

/** The tag (depth 0) and its ancestors, nearest first: one recursive statement. */
export async function selectAncestors(db: Db, id: string): Promise<DepthRow[]> {
  return await db<DepthRow[]>`
    with recursive up (id, parent_id, depth) as (
      select t.id, t.parent_id, 0 from tags t where t.id = ${id}
      union all
      select p.id, p.parent_id, up.depth + 1 from up join tags p on p.id = up.parent_id
    )
    select ${tagColumns(db)}, up.depth from up join tags t on t.id = up.id order by up.depth`;
}

/**
 * The tag itself (depth 0, always first, so an empty result means "no such tag") and then
 * one page of its descendants breadth first, by depth and name, after the keyset position,
 * plus one row that says whether more follow.
 */
export async function selectDescendants(
  db: Db,
  id: string,
  after: { depth: number; key: string } | null,
  limit: number,
): Promise<DepthRow[]> {
  return await db<DepthRow[]>`
    with recursive down (id, depth) as (
      select t.id, 0 from tags t where t.id = ${id}
      union all
      select c.id, down.depth + 1 from down join tags c on c.parent_id = down.id
    )
    select ${tagColumns(db)}, down.depth from down join tags t on t.id = down.id
    where down.depth = 0 or (down.depth, t.name_key) > (${after?.depth ?? 0}::int, ${after?.key ?? ""}::text)
    order by down.depth, t.name_key
    limit ${limit + 2}`;
}

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  requestId: string | null;
  time: Date;
}

export async function insertAuditEntry(db: Db, entry: AuditEntry): Promise<void> {
  await db`
    insert into audit_log (time, actor, action, target, details, request_id)
    values (${entry.time}, ${entry.actor}, ${entry.action}, ${entry.target},
            ${db.json(entry.details as postgres.JSONValue)}, ${entry.requestId})`;
}
