/**
 * SQL of the suggestion aggregate: proposed tags and who proposed them. Suggestions live in
 * their own tables; nothing here writes to `tags` (approval does that through queries.ts).
 */
import type postgres from "postgres";
import type { SuggestionRow, SuggestionStatusWord, TagTypeWord } from "./_convert.ts";
import type { Db } from "./queries.ts";

function suggestionColumns(db: Db): postgres.PendingQuery<postgres.Row[]> {
  return db`
    s.id, s.seq, s.name, s.type, s.parent_id, s.reason,
    array(select u.user_id from tag_suggesters u where u.suggestion_id = s.id order by u.seq) as suggested_by,
    s.status, s.tag_id, s.decided_by, s.rejection_reason, s.created_at, s.decided_at`;
}

export async function selectSuggestion(db: Db, id: string): Promise<SuggestionRow | undefined> {
  const [row] = await db<SuggestionRow[]>`select ${
    suggestionColumns(db)
  } from tag_suggestions s where s.id = ${id}`;
  return row;
}

/** Locks the suggestion row so two admins cannot decide it at once. */
export async function selectSuggestionForUpdate(db: Db, id: string): Promise<SuggestionRow | undefined> {
  const [row] = await db<SuggestionRow[]>`
    select ${suggestionColumns(db)} from tag_suggestions s where s.id = ${id} for update of s`;
  return row;
}

export interface NewSuggestion {
  name: string;
  key: string;
  type: TagTypeWord;
  parentId: string | null;
  reason: string;
  at: Date;
}

/**
 * The pending suggestion for the name: inserted, or the one already there. A concurrent
 * insert of the same name waits on the partial unique index and then finds the winner's row.
 */
export async function upsertPendingSuggestion(
  db: Db,
  s: NewSuggestion,
): Promise<{ id: string; created: boolean }> {
  const inserted = await db<{ id: string }[]>`
    insert into tag_suggestions (name, name_key, type, parent_id, reason, created_at)
    values (${s.name}, ${s.key}, ${s.type}, ${s.parentId}, ${s.reason}, ${s.at})
    on conflict (name_key) where status = 'pending' do nothing
    returning id`;
  if (inserted.length > 0) return { id: inserted[0].id, created: true };
  const [existing] = await db<{ id: string }[]>`
    select id from tag_suggestions where name_key = ${s.key} and status = 'pending'`;
  return { id: existing.id, created: false };
}

/** Adds a suggester; returns false when this user had already suggested it. */
export async function insertSuggester(
  db: Db,
  suggestionId: string,
  userId: string,
  reason: string,
  at: Date,
): Promise<boolean> {
  const rows = await db`
    insert into tag_suggesters (suggestion_id, user_id, reason, suggested_at)
    values (${suggestionId}, ${userId}, ${reason}, ${at})
    on conflict do nothing
    returning 1`;
  return rows.length > 0;
}

/** One page of suggestions, oldest first, after the `afterSeq` position. */
export async function listSuggestions(
  db: Db,
  status: SuggestionStatusWord | null,
  afterSeq: string | null,
  limit: number,
): Promise<SuggestionRow[]> {
  return await db<SuggestionRow[]>`
    select ${suggestionColumns(db)} from tag_suggestions s
    where true
      ${status ? db`and s.status = ${status}` : db``}
      ${afterSeq !== null ? db`and s.seq > ${afterSeq}::bigint` : db``}
    order by s.seq
    limit ${limit + 1}`;
}

export interface Decision {
  status: Exclude<SuggestionStatusWord, "pending">;
  tagId: string | null;
  decidedBy: string;
  rejectionReason: string | null;
  at: Date;
}

export async function decideSuggestion(db: Db, id: string, d: Decision): Promise<void> {
  await db`
    update tag_suggestions set
      status = ${d.status}, tag_id = ${d.tagId}, decided_by = ${d.decidedBy},
      rejection_reason = ${d.rejectionReason}, decided_at = ${d.at}
    where id = ${id}`;
}

/**
 * One page of the suggestions `userId` made, their newest first, before the `beforeSeq`
 * position (the seq of the user's suggester row). suggested_by lists only that user: who
 * else suggested the same name is not theirs to see.
 */
export async function listSuggestionsOfUser(
  db: Db,
  userId: string,
  beforeSeq: string | null,
  limit: number,
): Promise<(SuggestionRow & { my_seq: string })[]> {
  return await db<(SuggestionRow & { my_seq: string })[]>`
    select ${suggestionColumns(db)}, m.seq as my_seq
    from tag_suggesters m join tag_suggestions s on s.id = m.suggestion_id
    where m.user_id = ${userId}
      ${beforeSeq !== null ? db`and m.seq < ${beforeSeq}::bigint` : db``}
    order by m.seq desc
    limit ${limit + 1}`;
}
