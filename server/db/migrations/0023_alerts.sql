-- Alert rules (proto/taskmesh/alerts/v1/alerts.proto) and what their evaluation remembers.
create table alert_rules (
  id uuid primary key,
  name text not null check (length(name) between 1 and 100),
  kind text not null check (kind in (
    'dead_letters_growing', 'oldest_queued_age', 'no_worker', 'error_rate', 'campaign_auto_paused'
  )),
  queue text not null default '' check (length(queue) <= 128),
  threshold double precision not null default 0,
  window_ms bigint not null default 300000 check (window_ms between 0 and 86400000),
  email_to text not null default '' check (length(email_to) <= 320),
  webhook_url text not null default '' check (length(webhook_url) <= 2048),
  silence_ms bigint not null check (silence_ms between 0 and 604800000),
  created_at timestamptz not null,
  check ((email_to = '') <> (webhook_url = ''))
);
create index alert_rules_created on alert_rules (created_at, id);

-- One row per rule once evaluated. `notified_at` is the last notification of a firing: the
-- silence window counts from it. `baseline` is the last value seen (dead letters: the count
-- growth is measured from); `changed_at` when it last grew.
create table alert_states (
  rule_id uuid primary key references alert_rules (id) on delete cascade,
  firing boolean not null default false,
  since timestamptz,
  notified boolean not null default false,
  notified_at timestamptz,
  value double precision not null default 0,
  baseline double precision,
  changed_at timestamptz,
  summary text not null default '' check (length(summary) <= 500),
  evaluated_at timestamptz not null
);
create index alert_states_firing on alert_states (since, rule_id) where firing;
