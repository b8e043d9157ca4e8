-- Ends leases of one queue, each only if it is still its task's current one. A task
-- that leaves its limit group's running set stops counting against the group.
--
-- KEYS[1]  leases HASH (task id → lease id)
-- KEYS[2]  lease-workers HASH (task id → worker id)
-- KEYS[3]  lease-expiry ZSET (task id → expiresAt)
-- KEYS[4]  worker-leases base: KEYS[4] .. worker id is that worker's SET of task ids
-- KEYS[5]  task-groups HASH (task id → limit group)
-- KEYS[6]  group base: KEYS[6] .. group .. '}:running' is the group's SET of leased task ids
-- ARGV[1..] pairs: task id, lease id
--
-- Returns how many leases were current and are now gone; the others (expired and
-- taken, replaced, or never known) are left as they are.
local released = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[1], id) == ARGV[i + 1] then
    local worker = redis.call('HGET', KEYS[2], id)
    if worker then
      redis.call('SREM', KEYS[4] .. worker, id)
    end
    local group = redis.call('HGET', KEYS[5], id)
    if group then
      redis.call('SREM', KEYS[6] .. group .. '}:running', id)
      redis.call('HDEL', KEYS[5], id)
    end
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    released = released + 1
  end
end
return released
