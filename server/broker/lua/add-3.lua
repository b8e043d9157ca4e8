-- Adds tasks to one queue: ready when their time has come, delayed otherwise. A task
-- already in the queue moves (its score and place are replaced); a lease it holds is
-- left alone, since only claim, release, takeExpired and remove end leases.
--
-- KEYS[1]  ready ZSET (task id → ready score)
-- KEYS[2]  delayed ZSET (task id → runAt)
-- KEYS[3]  delayed-order HASH (task id → the ready score it gets when promoted)
-- ARGV[1]  now, epoch ms
-- ARGV[2..] triples: task id, ready score, runAt (epoch ms)
--
-- Returns the number of tasks that went to ready.
local now = tonumber(ARGV[1])
local ready = 0
for i = 2, #ARGV, 3 do
  local id, score, run_at = ARGV[i], ARGV[i + 1], ARGV[i + 2]
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
end
return ready
