-- Who did what, when: every state-changing RPC appends a row. Append-only by convention;
-- nothing updates or deletes audit rows.
create table audit_log (
  id bigserial primary key,
  time timestamptz not null default now(),
  actor text not null,
  action text not null,
  target text,
  details jsonb not null default '{}',
  request_id text
);

-- Reads are "what happened recently" or "between these times".
create index audit_log_time_idx on audit_log (time);
