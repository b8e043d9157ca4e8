-- A task's queue row is written by the enqueue itself (insertQueues, in the same
-- transaction, or earlier by this process: queue rows are never deleted), and enqueue is
-- the one statement that inserts tasks (_pg_enqueue.ts). The foreign key checked that
-- again row by row: one lookup of the queues row per inserted task, about a quarter of a
-- 1000-task insert's execution time (18-22 ms against 22-26 ms a batch, alternated in one
-- session, bench/results/queue-profile.md).
alter table tasks drop constraint tasks_queue_fkey;
