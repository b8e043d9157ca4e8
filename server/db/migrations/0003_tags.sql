-- The tag catalogue: a typed hierarchy, every name and alias of it, member suggestions that
-- only become tags when an admin approves them, and member subscriptions.
--
-- Name keys (trim + NFC + lower-case) are computed in TypeScript, not with lower() here:
-- lower() follows the database collation, and the embedded PGlite and a production
-- Postgres need not share one, so the key would differ between the two. Key columns use
-- the "C" collation so ordering and paging compare bytes the same everywhere.
--
-- User ids (created_by, suggesters, subscribers) are plain text without a foreign key to
-- users: API-key callers are recorded too, and the tag tables must not depend on the auth
-- migration's timing.

create table tags (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  name_key text collate "C" not null,
  slug text collate "C" not null,
  type text not null check (type in ('language', 'skill_level', 'topic', 'framework', 'tool', 'domain', 'concept')),
  -- No cascade: DeleteTag decides what becomes of children; a plain (NO ACTION) key is
  -- checked at the end of the statement, so a whole subtree goes in one delete.
  parent_id uuid references tags (id),
  description text not null default '',
  created_by text not null,
  updated_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  check (parent_id is distinct from id)
);

create unique index tags_name_key_idx on tags (name_key);
create unique index tags_slug_idx on tags (slug);
create index tags_parent_idx on tags (parent_id, name_key);
create index tags_type_idx on tags (type, name_key);

-- Every name and alias, so one primary key makes names unique across both.
create table tag_names (
  name_key text collate "C" primary key,
  tag_id uuid not null references tags (id) on delete cascade,
  name text not null,
  is_alias boolean not null,
  created_at timestamptz not null
);

create index tag_names_tag_idx on tag_names (tag_id);
-- Exactly one primary name per tag.
create unique index tag_names_primary_idx on tag_names (tag_id) where not is_alias;

create table tag_suggestions (
  id uuid primary key default gen_random_uuid(),
  -- Order of arrival, for "oldest first" paging without comparing timestamps.
  seq bigint generated always as identity unique,
  name text not null,
  name_key text collate "C" not null,
  type text not null check (type in ('language', 'skill_level', 'topic', 'framework', 'tool', 'domain', 'concept')),
  parent_id uuid references tags (id) on delete set null,
  reason text not null default '',
  status text not null default 'pending' check (status in ('pending', 'approved', 'mapped', 'rejected')),
  tag_id uuid references tags (id) on delete set null,
  decided_by text,
  rejection_reason text,
  created_at timestamptz not null,
  decided_at timestamptz
);

-- At most one pending suggestion per name: a second one is merged into it.
create unique index tag_suggestions_pending_name_idx on tag_suggestions (name_key) where status = 'pending';
create index tag_suggestions_status_idx on tag_suggestions (status, seq);

create table tag_suggesters (
  suggestion_id uuid not null references tag_suggestions (id) on delete cascade,
  user_id text not null,
  seq bigint generated always as identity,
  reason text not null default '',
  suggested_at timestamptz not null,
  primary key (suggestion_id, user_id)
);

create table tag_subscriptions (
  user_id text not null,
  tag_id uuid not null references tags (id) on delete cascade,
  -- Order of subscribing, for "newest first" paging.
  seq bigint generated always as identity,
  created_at timestamptz not null,
  primary key (user_id, tag_id)
);

-- Audience resolution walks tags to subscribers; "my subscriptions" walks the other way.
create index tag_subscriptions_tag_idx on tag_subscriptions (tag_id, user_id);
create index tag_subscriptions_user_seq_idx on tag_subscriptions (user_id, seq);
