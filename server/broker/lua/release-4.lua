-- Ends a lease if it is the task's current one.
--
-- KEYS[1]  leases HASH (task id → lease id)
-- KEYS[2]  lease-workers HASH (task id → worker id)
-- KEYS[3]  lease-expiry ZSET (task id → expiresAt)
-- KEYS[4]  worker-leases base: KEYS[4] .. worker id is that worker's SET of task ids
-- ARGV[1]  task id
-- ARGV[2]  lease id
--
-- Returns 1 when the lease was current and is now gone, 0 otherwise (expired and
-- taken, replaced, or never known).
local id = ARGV[1]
if redis.call('HGET', KEYS[1], id) ~= ARGV[2] then
  return 0
end
local worker = redis.call('HGET', KEYS[2], id)
if worker then
  redis.call('SREM', KEYS[4] .. worker, id)
end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
return 1
