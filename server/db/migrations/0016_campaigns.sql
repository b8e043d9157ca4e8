-- Campaigns: templates, the content library, campaigns, their runs, the delivery ledger
-- (one row per run and recipient, the fence against a second send), suppressions and the
-- key that signs unsubscribe links.

create table campaign_templates (
  id uuid primary key,
  name text not null,
  -- lower(name): names are unique case-insensitively.
  name_key text collate "C" not null unique,
  subject text not null,
  html_body text not null,
  text_body text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

create table content_items (
  id uuid primary key,
  -- The caller's key (ImportContentItems matches on it); null for none.
  key text collate "C" unique,
  title text not null,
  body_markdown text not null,
  -- Rendered and sanitised on save.
  body_html text not null,
  tag_ids uuid[] not null,
  metadata jsonb not null default '{}',
  -- Creation order: the selection's tie-break and ListContentItems' order.
  seq bigint generated always as identity,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index content_items_tags_idx on content_items using gin (tag_ids);
create index content_items_seq_idx on content_items (seq);

create table campaigns (
  id uuid primary key,
  name text not null,
  -- No cascade: DeleteTemplate refuses a template a campaign uses.
  template_id uuid not null references campaign_templates (id),
  -- {"tags": {"tagIds": [...], "includeDescendants": bool}} or {"explicit": {"emails": [...]}}.
  audience jsonb not null,
  -- {"now": true}, {"at": <ms>} or {"cron": {"expression": "...", "timeZone": "..."}}.
  schedule jsonb not null,
  -- {"enabled": bool, "tagIds": [...]}.
  content jsonb not null,
  rate_per_second double precision not null check (rate_per_second > 0),
  max_concurrency integer not null check (max_concurrency > 0),
  max_error_rate double precision not null check (max_error_rate > 0 and max_error_rate <= 1),
  state text not null check (state in ('draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled')),
  pause_reason text not null default '',
  -- The next tick of a scheduled or recurring campaign.
  next_run_at timestamptz,
  created_by text not null,
  seq bigint generated always as identity,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index campaigns_due_idx on campaigns (next_run_at) where state = 'scheduled';
create index campaigns_seq_idx on campaigns (seq);

create table campaign_runs (
  id uuid primary key,
  campaign_id uuid not null references campaigns (id) on delete cascade,
  -- The tick: one run per campaign and tick, however often the tick is fired.
  run_time timestamptz not null,
  state text not null check (state in ('sending', 'paused', 'completed', 'cancelled')),
  pause_reason text not null default '',
  created_at timestamptz not null,
  finished_at timestamptz,
  unique (campaign_id, run_time)
);
create index campaign_runs_sending_idx on campaign_runs (created_at) where state = 'sending';

create table campaign_deliveries (
  id uuid primary key,
  run_id uuid not null references campaign_runs (id) on delete cascade,
  campaign_id uuid not null,
  email text not null,
  -- lower(email): one delivery per run and address.
  email_key text collate "C" not null,
  user_id text,
  state text not null check (state in ('pending', 'claimed', 'sent', 'failed', 'skipped')),
  skip_reason text not null default '',
  content_item_id uuid,
  task_id uuid,
  attempts integer not null default 0,
  last_error text not null default '',
  message_id text not null,
  sent_at timestamptz,
  updated_at timestamptz not null,
  unique (run_id, email_key)
);
create index campaign_deliveries_state_idx on campaign_deliveries (run_id, state, email_key);
create index campaign_deliveries_item_idx on campaign_deliveries (email_key, content_item_id)
  where content_item_id is not null;
create index campaign_deliveries_claimed_idx on campaign_deliveries (updated_at) where state = 'claimed';

-- Addresses that receive no campaign mail: unsubscribed, or refused for good (5xx).
create table campaign_suppressions (
  email_key text collate "C" primary key,
  reason text not null check (reason in ('unsubscribed', 'hard_bounced')),
  created_at timestamptz not null
);

-- The key that signs unsubscribe links, made once and shared by every instance.
create table campaign_secrets (
  name text primary key,
  secret bytea not null,
  created_at timestamptz not null
);
