-- Forgets a task wherever it is in its queue: ready, delayed or leased, and in its
-- limit group's running set.
--
-- KEYS[1]  ready ZSET
-- KEYS[2]  delayed ZSET
-- KEYS[3]  delayed-order HASH
-- KEYS[4]  leases HASH (task id → lease id)
-- KEYS[5]  lease-workers HASH (task id → worker id)
-- KEYS[6]  lease-expiry ZSET
-- KEYS[7]  worker-leases base: KEYS[7] .. worker id is that worker's SET of task ids
-- KEYS[8]  task-types HASH (task id → type)
-- KEYS[9]  task-groups HASH (task id → limit group)
-- KEYS[10] group base: KEYS[10] .. group .. '}:running' is the group's SET of leased task ids
-- ARGV[1]  task id
--
-- Returns 1 when the task was held anywhere, 0 otherwise.
local id = ARGV[1]
local found = redis.call('ZREM', KEYS[1], id) + redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
local worker = redis.call('HGET', KEYS[5], id)
if worker then
  redis.call('SREM', KEYS[7] .. worker, id)
end
found = found + redis.call('HDEL', KEYS[4], id)
redis.call('HDEL', KEYS[5], id)
redis.call('ZREM', KEYS[6], id)
redis.call('HDEL', KEYS[8], id)
local group = redis.call('HGET', KEYS[9], id)
if group then
  redis.call('SREM', KEYS[10] .. group .. '}:running', id)
  redis.call('HDEL', KEYS[9], id)
end
if found > 0 then
  return 1
end
return 0
