-- Moves delayed tasks of one queue whose time has come to ready, earliest first.
--
-- KEYS[1]  delayed ZSET (task id → runAt)
-- KEYS[2]  delayed-order HASH (task id → ready score)
-- KEYS[3]  ready ZSET (task id → ready score)
-- ARGV[1]  now, epoch ms: tasks with runAt <= now move
-- ARGV[2]  most tasks to move
--
-- Returns the number of tasks moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  -- add-3.lua writes both together; a missing order (a hand-edited key) still must not
  -- lose the task, so it goes to the back of the lowest priority.
  local score = redis.call('HGET', KEYS[2], id) or '99999999999999'
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZADD', KEYS[3], score, id)
end
return #due
