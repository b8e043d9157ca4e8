-- Adds tasks to one queue: ready when their time has come, delayed otherwise. A task
-- already in the queue moves (its score and place are replaced). A task that holds a
-- lease is left where it is: it is in flight (its start may not be in Postgres yet, see
-- docs/ARCHITECTURE.md "Delivery"), and only claim, release, takeExpired and remove end
-- leases; the end of its lease puts it back if it must run again.
--
-- KEYS[1]  ready ZSET (task id → ready score)
-- KEYS[2]  delayed ZSET (task id → runAt)
-- KEYS[3]  delayed-order HASH (task id → the ready score it gets when promoted)
-- KEYS[4]  task-types HASH (task id → type): what a claim routes by
-- KEYS[5]  task-groups HASH (task id → limit group): what a claim counts against
-- KEYS[6]  leases HASH (task id → lease id)
-- ARGV[1]  now, epoch ms
-- ARGV[2..] quintuples: task id, ready score, runAt (epoch ms), type ('' for any
--           worker), limit group ('' for none)
--
-- Returns the number of tasks that went to ready.
local now = tonumber(ARGV[1])
local ready = 0
for i = 2, #ARGV, 5 do
  local id, score, run_at, task_type, group = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if redis.call('HEXISTS', KEYS[6], id) == 0 then
    if tonumber(run_at) <= now then
      redis.call('ZREM', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
      redis.call('ZADD', KEYS[1], score, id)
      ready = ready + 1
    else
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZADD', KEYS[2], run_at, id)
      redis.call('HSET', KEYS[3], id, score)
    end
    if task_type ~= '' then
      redis.call('HSET', KEYS[4], id, task_type)
    else
      redis.call('HDEL', KEYS[4], id)
    end
    if group ~= '' then
      redis.call('HSET', KEYS[5], id, group)
    end
  end
end
return ready
