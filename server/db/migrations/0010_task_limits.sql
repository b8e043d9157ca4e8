-- Queue limits, limit groups, per-type defaults, and the attempt number of a task's whole life.
--
-- queues already holds concurrency_limit, rate_limit_per_second and rate_limit_burst (0004).
-- The broker enforces limits at claim time; they live here so a rebuild restores them.

-- The limit group a task counts against (TaskSpec.limit_group); null for none.
alter table tasks add column limit_group text collate "C";

-- Attempts started over the task's whole life: attempt_count is the budget a manual retry
-- resets, this is what the contract's Task.attempt_count and Assign.attempt show, and the
-- number the next attempt row gets.
alter table tasks add column attempt_number integer not null default 0 check (attempt_number >= 0);

update tasks t set attempt_number = a.n
from (select task_id, max(number) as n from task_attempts group by task_id) a
where a.task_id = t.id;

create table limit_groups (
  name text collate "C" primary key,
  -- Null means no limit, as on queues.
  concurrency_limit integer check (concurrency_limit > 0),
  rate_limit_per_second double precision check (rate_limit_per_second > 0),
  rate_limit_burst integer check (rate_limit_burst > 0),
  created_at timestamptz not null,
  updated_at timestamptz not null
);

-- What an Enqueue of a type gets for the fields it leaves unset; a null column has no default.
create table task_type_defaults (
  type text collate "C" primary key,
  queue text collate "C",
  max_attempts integer check (max_attempts between 1 and 100),
  backoff_initial_ms bigint check (backoff_initial_ms >= 0),
  backoff_max_ms bigint check (backoff_max_ms >= 0),
  backoff_multiplier double precision check (backoff_multiplier >= 1),
  timeout_ms integer check (timeout_ms > 0),
  updated_at timestamptz not null,
  check ((backoff_initial_ms is null) = (backoff_max_ms is null)),
  check ((backoff_initial_ms is null) = (backoff_multiplier is null))
);
