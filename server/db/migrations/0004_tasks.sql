-- The task runtime's truth: tasks, every attempt of them, the edges of tasks still waiting
-- on others, idempotency keys and per-queue settings. The broker (Redis or in-memory) holds
-- nothing this cannot rebuild. Times come from the application's clock, never now().
--
-- Every index on tasks is paid on each state change (a state change is never a HOT update,
-- since state is indexed), so there are few of them: type and label filters ride the
-- created_at order instead of having their own.

create table queues (
  name text collate "C" primary key,
  paused boolean not null default false,
  -- Null means no limit. The broker enforces them; they live here so a rebuild restores them.
  concurrency_limit integer check (concurrency_limit > 0),
  rate_limit_per_second double precision check (rate_limit_per_second > 0),
  rate_limit_burst integer check (rate_limit_burst > 0),
  created_at timestamptz not null,
  updated_at timestamptz not null
);

create table tasks (
  -- Made by the application, so an idempotency key can be claimed for the task before it is inserted.
  id uuid primary key,
  -- Insertion order: FIFO within a priority, and the tie-breaker of every keyset page.
  seq bigint generated always as identity,
  queue text collate "C" not null references queues (name),
  type text not null,
  payload bytea not null,
  priority smallint not null check (priority between 0 and 9),
  -- 'failed' is part of the contract but never stored today: a failed attempt goes
  -- straight to 'scheduled' (retry) or 'dead' in the same transaction.
  state text not null check (
    state in ('waiting', 'scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')
  ),
  -- Attempts started since the task was enqueued or last retried by hand; max_attempts bounds it.
  attempt_count integer not null default 0 check (attempt_count >= 0),
  max_attempts integer not null check (max_attempts >= 1),
  backoff_initial_ms bigint not null check (backoff_initial_ms >= 0),
  backoff_max_ms bigint not null check (backoff_max_ms >= 0),
  backoff_multiplier double precision not null check (backoff_multiplier >= 1),
  timeout_ms integer not null check (timeout_ms > 0),
  -- As submitted ('' for none); uniqueness lives in task_idempotency_keys.
  idempotency_key text not null default '',
  labels jsonb not null default '{}',
  -- Every dependency as submitted, in order (batch references resolved to ids). A dependency
  -- that no longer exists was a dead letter purged since, and counts as dead.
  depends_on uuid[] not null default '{}',
  condition text not null default 'on_success' check (condition in ('on_success', 'on_failure', 'always')),
  -- Not before this time; for queued tasks, when they became ready.
  run_at timestamptz not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  -- When the task reached succeeded, dead or cancelled.
  finished_at timestamptz,
  -- The current lease, and the worker holding it: set exactly while running.
  lease_id text,
  worker_id text,
  progress_percent double precision,
  progress_message text,
  progress_updated_at timestamptz,
  output bytea,
  -- {message, code, retryable} of the last failed attempt.
  last_error jsonb,
  cancel_reason text not null default '',
  schedule_id text,
  check ((state = 'running') = (lease_id is not null))
);

-- ListTasks, newest first, unfiltered, by queue, and by state (dead letters too).
create index tasks_created_idx on tasks (created_at, seq);
create index tasks_queue_created_idx on tasks (queue, created_at, seq);
-- Also the per-queue counts of queueStats, which only count the states that stay small.
create index tasks_state_queue_created_idx on tasks (state, queue, created_at, seq);
-- The oldest runnable task of a queue. Partial indexes cost nothing for rows outside them.
create index tasks_runnable_idx on tasks (queue, run_at) where state in ('queued', 'scheduled');
-- The broker rebuild reads live tasks in seq order, in keyset batches.
create index tasks_live_seq_idx on tasks (seq) where state in ('queued', 'scheduled', 'running');

create table task_attempts (
  task_id uuid not null references tasks (id) on delete cascade,
  -- Counts every attempt of the task's life; unlike attempt_count, a manual retry does not reset it.
  number integer not null check (number >= 1),
  -- Copied from the task so processed/failed rates per queue need no join.
  queue text collate "C" not null,
  worker_id text not null,
  lease_id text not null,
  started_at timestamptz not null,
  ended_at timestamptz,
  outcome text check (outcome in ('succeeded', 'failed', 'lease_expired', 'timed_out', 'cancelled')),
  error jsonb,
  primary key (task_id, number),
  check ((ended_at is null) = (outcome is null))
);

-- Processed and failed per second over the last minute, per queue.
create index task_attempts_ended_idx on task_attempts (queue, ended_at) where ended_at is not null;

-- Edges of waiting tasks only: they are deleted when the task is released or cancelled, so
-- "who waits on the task that just ended" reads a small index. tasks.depends_on keeps the record.
-- depends_on has no foreign key: a dead dependency may be purged while others are still pending.
create table task_dependencies (
  task_id uuid not null references tasks (id) on delete cascade,
  depends_on uuid not null,
  primary key (task_id, depends_on)
);

create index task_dependencies_depends_on_idx on task_dependencies (depends_on);

-- Idempotency keys are unique per queue for 7 days (the contract). A partial unique index on
-- tasks could only make them unique forever; here an expired key is taken over by the next
-- task that claims it, in the same statement that would otherwise conflict. The key row is
-- claimed before its task is inserted, hence the deferred foreign key.
create table task_idempotency_keys (
  queue text collate "C" not null,
  key text collate "C" not null,
  task_id uuid not null references tasks (id) on delete cascade deferrable initially deferred,
  expires_at timestamptz not null,
  primary key (queue, key)
);

create index task_idempotency_keys_task_idx on task_idempotency_keys (task_id);
