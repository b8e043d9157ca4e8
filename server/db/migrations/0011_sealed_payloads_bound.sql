-- A sealed payload opens only for the task it was sealed for (server/tasks/sealed_payloads.ts):
-- anyone who can read a task can copy its reference into a task of their own.
alter table sealed_payloads add column task_id uuid references tasks (id) on delete cascade;
create index sealed_payloads_task_id on sealed_payloads (task_id);

-- Those sealed before belong to the first auth mail that names them; any later task naming
-- one is a copy. One bound to no task opens for none.
update sealed_payloads s
set task_id = (
  select t.id from tasks t
  where t.payload = convert_to('{"$sealed":"' || s.id::text || '"}', 'UTF8')
    and t.type = 'email.send' and t.labels ->> 'source' = 'auth'
  order by t.seq
  limit 1
);

-- The secret outlives its use no longer than needed: gone once its task succeeded. A dead or
-- cancelled task keeps it (until it expires) so a retry can still send the mail.
create function delete_sealed_payload_of_succeeded_task() returns trigger language plpgsql as $$
begin
  delete from sealed_payloads where task_id = new.id;
  return null;
end;
$$;
create trigger tasks_succeeded_delete_sealed_payload
  after update of state on tasks
  for each row when (new.state = 'succeeded' and old.state is distinct from 'succeeded')
  execute function delete_sealed_payload_of_succeeded_task();
