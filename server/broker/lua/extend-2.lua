-- Extends leases of one queue that are still current. A lease is current until it is
-- released, replaced, removed or taken by take-expired-4.lua; one past its time that
-- the reaper has not taken yet may still be extended, since both scripts are atomic
-- and the task was never given to anyone else.
--
-- KEYS[1]  leases HASH (task id → lease id)
-- KEYS[2]  lease-expiry ZSET (task id → expiresAt)
-- ARGV[1]  new expiresAt, epoch ms
-- ARGV[2..] pairs: task id, lease id
--
-- Returns the lease ids extended.
local out = {}
for i = 2, #ARGV, 2 do
  local id, lease_id = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[1], id) == lease_id then
    redis.call('ZADD', KEYS[2], ARGV[1], id)
    out[#out + 1] = lease_id
  end
end
return out
