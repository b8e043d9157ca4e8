-- Forgets a task wherever it is in its queue: ready, delayed or leased.
--
-- KEYS[1]  ready ZSET
-- KEYS[2]  delayed ZSET
-- KEYS[3]  delayed-order HASH
-- KEYS[4]  leases HASH (task id → lease id)
-- KEYS[5]  lease-workers HASH (task id → worker id)
-- KEYS[6]  lease-expiry ZSET
-- KEYS[7]  worker-leases base: KEYS[7] .. worker id is that worker's SET of task ids
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
if found > 0 then
  return 1
end
return 0
