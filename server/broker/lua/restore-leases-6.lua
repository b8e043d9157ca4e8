-- Puts back leases that Postgres says are running, after the broker lost its state.
-- A task that already has a lease keeps it: that lease was made after Postgres' view
-- was read (a claim since the loss), so it is at least as new as the one restored. A
-- restored task counts against its limit group again.
--
-- KEYS[1]  leases HASH (task id → lease id)
-- KEYS[2]  lease-workers HASH (task id → worker id)
-- KEYS[3]  lease-expiry ZSET (task id → expiresAt)
-- KEYS[4]  worker-leases base: KEYS[4] .. worker id is that worker's SET of task ids
-- KEYS[5]  task-groups HASH (task id → limit group)
-- KEYS[6]  group base: KEYS[6] .. group .. '}:running' is the group's SET of leased task ids
-- ARGV[1..] quintuples: task id, lease id, worker id, expiresAt (epoch ms), group ('' for none)
--
-- Returns the number of leases restored.
local restored = 0
for i = 1, #ARGV, 5 do
  local id, lease_id, worker, expires_at, group = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if redis.call('HSETNX', KEYS[1], id, lease_id) == 1 then
    redis.call('HSET', KEYS[2], id, worker)
    redis.call('ZADD', KEYS[3], expires_at, id)
    redis.call('SADD', KEYS[4] .. worker, id)
    if group ~= '' then
      redis.call('HSET', KEYS[5], id, group)
      redis.call('SADD', KEYS[6] .. group .. '}:running', id)
    end
    restored = restored + 1
  end
end
return restored
