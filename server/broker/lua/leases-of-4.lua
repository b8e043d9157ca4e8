-- Reads the current leases one worker holds in one queue. Read-only; a script so the
-- lease id, worker and expiry come from one moment.
--
-- KEYS[1]  the worker's SET of task ids in this queue
-- KEYS[2]  leases HASH (task id → lease id)
-- KEYS[3]  lease-workers HASH (task id → worker id)
-- KEYS[4]  lease-expiry ZSET (task id → expiresAt)
-- ARGV[1]  worker id
--
-- Returns a flat array: task id, lease id, expiresAt, ...
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lease_id = redis.call('HGET', KEYS[2], id)
  if lease_id and redis.call('HGET', KEYS[3], id) == ARGV[1] then
    out[#out + 1] = id
    out[#out + 1] = lease_id
    out[#out + 1] = redis.call('ZSCORE', KEYS[4], id)
  end
end
return out
