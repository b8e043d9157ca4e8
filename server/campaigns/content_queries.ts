/**
 * SQL of the content library, and the per-recipient pick: an item carrying a tag the
 * recipient subscribes to (or a descendant of one), within the campaign's own tags when it
 * names some, that no delivery ever claimed for this address; the recipient's skill_level
 * tags first, then the oldest item, then the smallest id.
 */
import type postgres from "postgres";

export type Db = postgres.ISql;

export interface ContentRow {
  id: string;
  key: string | null;
  title: string;
  body_markdown: string;
  body_html: string;
  tag_ids: string[];
  metadata: Record<string, string>;
  seq: string;
  created_at: Date;
  updated_at: Date;
}

export interface ContentFields {
  key: string | null;
  title: string;
  bodyMarkdown: string;
  bodyHtml: string;
  tagIds: string[];
  metadata: Record<string, string>;
}

/** Tag ids of `tagIds` that do not exist. */
export async function missingTags(db: Db, tagIds: string[]): Promise<string[]> {
  if (tagIds.length === 0) return [];
  const rows = await db<{ id: string }[]>`select id::text from tags where id = any(${tagIds}::uuid[])`;
  const known = new Set(rows.map((r) => r.id));
  return tagIds.filter((id) => !known.has(id));
}

/** Inserts an item, or with a key already stored updates that one; says which. */
export async function upsertContentItem(db: Db, id: string, c: ContentFields, now: Date) {
  const [row] = await db<(ContentRow & { inserted: boolean })[]>`
    insert into content_items (id, key, title, body_markdown, body_html, tag_ids, metadata, created_at, updated_at)
    values (${id}, ${c.key}, ${c.title}, ${c.bodyMarkdown}, ${c.bodyHtml}, ${c.tagIds}::uuid[],
      ${db.json(c.metadata)}, ${now}, ${now})
    on conflict (key) do update set title = excluded.title, body_markdown = excluded.body_markdown,
      body_html = excluded.body_html, tag_ids = excluded.tag_ids, metadata = excluded.metadata,
      updated_at = excluded.updated_at
    returning *, tag_ids::text[] as tag_ids, (xmax = 0) as inserted`;
  return row;
}

export async function selectContentItem(db: Db, id: string): Promise<ContentRow | undefined> {
  const [row] = await db<
    ContentRow[]
  >`select *, tag_ids::text[] as tag_ids from content_items where id = ${id}`;
  return row;
}

export async function updateContentItem(db: Db, id: string, c: ContentFields, now: Date) {
  const [row] = await db<ContentRow[]>`
    update content_items set title = ${c.title}, body_markdown = ${c.bodyMarkdown}, body_html = ${c.bodyHtml},
      tag_ids = ${c.tagIds}::uuid[], metadata = ${db.json(c.metadata)}, updated_at = ${now}
    where id = ${id} returning *, tag_ids::text[] as tag_ids`;
  return row as ContentRow | undefined;
}

export async function deleteContentItem(db: Db, id: string): Promise<boolean> {
  return (await db`delete from content_items where id = ${id} returning id`).length > 0;
}

export async function listContentItems(db: Db, tagId: string | null, afterSeq: string | null, limit: number) {
  return await db<ContentRow[]>`
    select *, tag_ids::text[] as tag_ids from content_items
    where seq > ${afterSeq ?? "0"}::bigint
      ${tagId ? db`and tag_ids @> array[${tagId}]::uuid[]` : db``}
    order by seq limit ${limit + 1}`;
}

/** The item to send `userId` (address `emailKey`), or undefined when none is left. */
export async function pickContentItem(
  db: Db,
  userId: string,
  emailKey: string,
  campaignTagIds: string[],
): Promise<ContentRow | undefined> {
  const [row] = await db<ContentRow[]>`
    with recursive subscribed (id) as (
      select tag_id from tag_subscriptions where user_id = ${userId}
      union
      select c.id from subscribed join tags c on c.parent_id = subscribed.id
    ), within (id) as (
      select id from tags where id = any(${campaignTagIds}::uuid[])
      union
      select c.id from within join tags c on c.parent_id = within.id
    ), skill (id) as (
      select s.tag_id from tag_subscriptions s join tags t on t.id = s.tag_id
      where s.user_id = ${userId} and t.type = 'skill_level'
    )
    select i.*, i.tag_ids::text[] as tag_ids from content_items i
    where i.tag_ids && array(select id from subscribed where id not in (select id from skill))
      and (${campaignTagIds.length === 0} or i.tag_ids && array(select id from within))
      and not exists (
        select 1 from campaign_deliveries d
        where d.email_key = ${emailKey} and d.content_item_id = i.id and d.state in ('claimed', 'sent')
      )
    order by (i.tag_ids && array(select id from skill)) desc, i.seq, i.id
    limit 1`;
  return row;
}
