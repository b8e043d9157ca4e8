-- Puts back leases that Postgres says are running, after the broker lost its state.
-- A task that already has a lease keeps it: that lease was made after Postgres' view
-- was read (a claim since the loss), so it is at least as new as the one restored.
--
-- KEYS[1]  leases HASH (task id → lease id)
-- KEYS[2]  lease-workers HASH (task id → worker id)
-- KEYS[3]  lease-expiry ZSET (task id → expiresAt)
-- KEYS[4]  worker-leases base: KEYS[4] .. worker id is that worker's SET of task ids
-- ARGV[1..] quadruples: task id, lease id, worker id, expiresAt (epoch ms)
--
-- Returns the number of leases restored.
local restored = 0
for i = 1, #ARGV, 4 do
  local id, lease_id, worker, expires_at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('HSETNX', KEYS[1], id, lease_id) == 1 then
    redis.call('HSET', KEYS[2], id, worker)
    redis.call('ZADD', KEYS[3], expires_at, id)
    redis.call('SADD', KEYS[4] .. worker, id)
    restored = restored + 1
  end
end
return restored
