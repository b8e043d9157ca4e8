-- Removes and returns the leases of one queue that expired at or before now, oldest
-- first. Each expired lease comes out of exactly one call. Their tasks stop counting
-- against their limit group.
--
-- KEYS[1]  lease-expiry ZSET (task id → expiresAt)
-- KEYS[2]  leases HASH (task id → lease id)
-- KEYS[3]  lease-workers HASH (task id → worker id)
-- KEYS[4]  worker-leases base: KEYS[4] .. worker id is that worker's SET of task ids
-- KEYS[5]  task-groups HASH (task id → limit group)
-- KEYS[6]  group base: KEYS[6] .. group .. '}:running' is the group's SET of leased task ids
-- ARGV[1]  now, epoch ms
-- ARGV[2]  most leases to take
--
-- Returns a flat array: task id, lease id, worker id, expiresAt, ...
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #due, 2 do
  local id, expires_at = due[i], due[i + 1]
  local lease_id = redis.call('HGET', KEYS[2], id)
  local worker = redis.call('HGET', KEYS[3], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  if worker then
    redis.call('SREM', KEYS[4] .. worker, id)
  end
  local group = redis.call('HGET', KEYS[5], id)
  if group then
    redis.call('SREM', KEYS[6] .. group .. '}:running', id)
    redis.call('HDEL', KEYS[5], id)
  end
  if lease_id and worker then
    out[#out + 1] = id
    out[#out + 1] = lease_id
    out[#out + 1] = worker
    out[#out + 1] = expires_at
  end
end
return out
