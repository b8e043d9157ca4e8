-- Secrets never travel in a task payload (server/tasks/sealed_payloads.ts): a payload is
-- readable by every viewer and every tasks:read key, so a secret is sealed here and the
-- payload only names it. Only the Assign to the worker holding the task's lease opens it.
create table sealed_payloads (
  id uuid primary key,
  body bytea not null,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
create index sealed_payloads_expires_at on sealed_payloads (expires_at);

-- Auth's mails enqueued before this migration carry their verification or reset token in
-- the payload. Those still to be sent are sealed (for a day, the longest a token lives)...
with pending as (
  select id, payload, gen_random_uuid() as sealed_id
  from tasks
  where type = 'email.send' and labels ->> 'source' = 'auth'
    and state in ('waiting', 'scheduled', 'queued', 'running', 'failed')
),
sealed as (
  insert into sealed_payloads (id, body, created_at, expires_at)
  select sealed_id, payload, now(), now() + interval '1 day' from pending
)
update tasks t
set payload = convert_to('{"$sealed":"' || p.sealed_id::text || '"}', 'UTF8')
from pending p
where t.id = p.id;

-- ...and those that are over (succeeded, dead, cancelled) lose theirs: nothing needs it.
update tasks
set payload = convert_to('{"$redacted":"this mail carried a secret; migration 0005 removed it"}', 'UTF8')
where type = 'email.send' and labels ->> 'source' = 'auth'
  and state in ('succeeded', 'dead', 'cancelled');
