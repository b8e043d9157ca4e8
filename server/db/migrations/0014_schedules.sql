-- Schedules (server/schedules/): periodic and one-shot fires of a task, and the record of
-- each tick. A tick's task carries the idempotency key schedule:<id>:<tick>, the fence that
-- keeps every instance, restart and retry from enqueueing it twice; schedule_fires keys the
-- tick the same way. An instance claims a due schedule (claimed_until) and writes the ticks
-- it is about to fire (pending_ticks) before it fires them; if it dies, another instance
-- takes the schedule once the claim has passed and fires those ticks again (same keys).

create table schedules (
  id uuid primary key,
  name text collate "C" not null unique,
  -- Exactly one of cron (with time_zone), interval_ms (with anchor_at) and once_at.
  cron text,
  time_zone text not null default 'UTC',
  interval_ms bigint check (interval_ms > 0),
  anchor_at timestamptz,
  once_at timestamptz,
  start_at timestamptz,
  end_at timestamptz,
  jitter_ms bigint not null default 0 check (jitter_ms >= 0),
  -- The TaskSpec to enqueue on each tick, as protobuf binary (taskmesh.tasks.v1.TaskSpec).
  task_spec bytea not null,
  overlap text not null check (overlap in ('allow', 'skip', 'buffer_one', 'cancel_previous')),
  catch_up text not null check (catch_up in ('skip', 'latest', 'all')),
  catch_up_window_ms bigint not null check (catch_up_window_ms > 0),
  catch_up_limit integer not null check (catch_up_limit > 0),
  labels jsonb not null default '{}',
  paused boolean not null default false,
  pause_note text not null default '',
  -- The earliest tick not handled yet; null once no tick is left (a one-shot fired, past end_at).
  next_fire_at timestamptz,
  last_fire_at timestamptz,
  -- The task of the latest fire that made one: what the overlap policy looks at.
  last_task_id uuid,
  -- Set while an instance fires the ticks in pending_ticks (epoch milliseconds, a JSON array).
  claimed_until timestamptz,
  -- The instance holding the claim (TasksRuntime.serverId).
  claimed_by text,
  pending_ticks jsonb not null default '[]',
  created_at timestamptz not null,
  updated_at timestamptz not null,
  check ((cron is not null)::int + (interval_ms is not null)::int + (once_at is not null)::int = 1),
  check (end_at is null or start_at is null or end_at > start_at)
);

create index schedules_due_idx on schedules (next_fire_at) where not paused and next_fire_at is not null;
create index schedules_claimed_idx on schedules (claimed_until) where claimed_until is not null;
create index schedules_labels_idx on schedules using gin (labels);

create table schedule_fires (
  schedule_id uuid not null references schedules (id) on delete cascade,
  tick_at timestamptz not null,
  -- A TriggerSchedule fire: its tick is the time of the call.
  manual boolean not null default false,
  fired_at timestamptz not null,
  task_id uuid,
  outcome text not null check (outcome in ('enqueued', 'buffered', 'skipped', 'failed')),
  message text not null default '',
  primary key (schedule_id, tick_at, manual)
);

create index schedule_fires_recent_idx on schedule_fires (schedule_id, fired_at desc, tick_at desc, manual desc);
