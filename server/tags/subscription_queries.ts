/**
 * SQL of the subscription aggregate: which members follow which tags, and the audience a
 * set of tags reaches. A subscription to a tag covers the tag's descendants.
 */
import type { TagRow } from "./_convert.ts";
import { type Db, tagColumns } from "./queries.ts";

export interface SubscriptionRow extends TagRow {
  seq: string;
  subscribed_at: Date;
}

/**
 * Subscribes, or finds the subscription that exists: the union sees the row this statement
 * inserted or, when the insert did nothing, the one that was already there.
 */
export async function insertSubscription(
  db: Db,
  userId: string,
  tagId: string,
  at: Date,
): Promise<{ created_at: Date; created: boolean }> {
  const [row] = await db<{ created_at: Date; created: boolean }[]>`
    with ins as (
      insert into tag_subscriptions (user_id, tag_id, created_at) values (${userId}, ${tagId}, ${at})
      on conflict do nothing
      returning created_at
    )
    select created_at, true as created from ins
    union all
    select created_at, false from tag_subscriptions where user_id = ${userId} and tag_id = ${tagId}
    limit 1`;
  return row;
}

export async function deleteSubscription(db: Db, userId: string, tagId: string): Promise<boolean> {
  const rows =
    await db`delete from tag_subscriptions where user_id = ${userId} and tag_id = ${tagId} returning 1`;
  return rows.length > 0;
}

/** Removes every subscription to the tags; returns how many there were. */
export async function deleteSubscriptionsOfTags(db: Db, tagIds: string[]): Promise<number> {
  const rows = await db`delete from tag_subscriptions where tag_id = any(${tagIds}::uuid[]) returning 1`;
  return rows.length;
}

/** One page of the user's subscriptions with their tags, newest first, plus one to say whether more follow. */
export async function listSubscriptionsOfUser(
  db: Db,
  userId: string,
  beforeSeq: string | null,
  limit: number,
): Promise<SubscriptionRow[]> {
  return await db<SubscriptionRow[]>`
    select ${tagColumns(db)}, s.seq, s.created_at as subscribed_at
    from tag_subscriptions s join tags t on t.id = s.tag_id
    where s.user_id = ${userId}
      ${beforeSeq !== null ? db`and s.seq < ${beforeSeq}::bigint` : db``}
    order by s.seq desc
    limit ${limit + 1}`;
}

export interface AudiencePage {
  /** Which of the requested tags exist, so a caller can name the unknown ones. */
  known_tags: string[];
  total: string;
  user_ids: string[];
}

/**
 * The tags an audience draws from: `tagIds`, and with `widen` also their descendants and
 * their ancestors (whose subscriptions cover these tags), as
 * ResolveAudienceRequest.include_descendants says. A `with` list's first entries, ending
 * in `scope (id)` and a comma.
 */
function audienceScope(db: Db, tagIds: string[], widen: boolean) {
  return widen
    ? db`
      with recursive down (id) as (
        select id from tags where id = any(${tagIds}::uuid[])
        union
        select c.id from down join tags c on c.parent_id = down.id
      ), up (id) as (
        select parent_id from tags where id = any(${tagIds}::uuid[]) and parent_id is not null
        union
        select p.parent_id from up join tags p on p.id = up.id where p.parent_id is not null
      ), scope (id) as (select id from down union select id from up),`
    : db`with scope (id) as (select id from tags where id = any(${tagIds}::uuid[])),`;
}

/**
 * The audience as a query of its own (`select user_id`, distinct), for a statement that
 * uses it whole in SQL (a campaign run's ledger) instead of paging it through the server.
 */
export function audienceQuery(db: Db, tagIds: string[], widen: boolean) {
  return db`
    ${audienceScope(db, tagIds, widen)}
    audience (user_id) as (
      select distinct s.user_id from tag_subscriptions s where s.tag_id in (select id from scope)
    )
    select user_id from audience`;
}

/**
 * The distinct subscribers of the tags, counted and paged by user id, in one statement
 * (audienceScope says which tags count).
 */
export async function selectAudience(
  db: Db,
  tagIds: string[],
  widen: boolean,
  afterUserId: string | null,
  limit: number,
): Promise<AudiencePage> {
  const scope = audienceScope(db, tagIds, widen);
  const [row] = await db<AudiencePage[]>`
    ${scope}
    audience (user_id) as (
      select distinct s.user_id from tag_subscriptions s where s.tag_id in (select id from scope)
    )
    select
      array(select id::text from tags where id = any(${tagIds}::uuid[])) as known_tags,
      (select count(*) from audience)::text as total,
      array(
        select user_id from audience
        where user_id collate "C" > ${afterUserId ?? ""}
        order by user_id collate "C"
        limit ${limit + 1}
      ) as user_ids`;
  return row;
}
