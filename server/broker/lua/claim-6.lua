-- Takes the best ready tasks of one queue and leases each to a worker. Popping and
-- leasing happen in this one script, so a task is never handed out twice and never
-- leaves ready without a lease.
--
-- KEYS[1]  ready ZSET (task id → ready score)
-- KEYS[2]  paused STRING (present while the queue is paused)
-- KEYS[3]  leases HASH (task id → lease id)
-- KEYS[4]  lease-workers HASH (task id → worker id)
-- KEYS[5]  lease-expiry ZSET (task id → expiresAt)
-- KEYS[6]  worker-leases base: KEYS[6] .. worker id is that worker's SET of task ids
-- ARGV[1]  worker id
-- ARGV[2]  expiresAt, epoch ms
-- ARGV[3..] one fresh lease id per task wanted: their count is the most to take
--
-- Returns a flat array: task id, lease id, ready score, ... lowest score first; empty
-- when the queue is paused or has nothing ready.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {}
end
local worker, expires_at = ARGV[1], ARGV[2]
local popped = redis.call('ZPOPMIN', KEYS[1], #ARGV - 2)
local out = {}
for i = 1, #popped, 2 do
  local id, score = popped[i], popped[i + 1]
  local lease_id = ARGV[2 + (i + 1) / 2]
  -- A task re-added while still leased (a lease restored from a stale snapshot) gets a
  -- new lease; the old one stops being current and leaves every index.
  local old_worker = redis.call('HGET', KEYS[4], id)
  if old_worker then
    redis.call('SREM', KEYS[6] .. old_worker, id)
  end
  redis.call('HSET', KEYS[3], id, lease_id)
  redis.call('HSET', KEYS[4], id, worker)
  redis.call('ZADD', KEYS[5], expires_at, id)
  redis.call('SADD', KEYS[6] .. worker, id)
  out[#out + 1] = id
  out[#out + 1] = lease_id
  out[#out + 1] = score
end
return out
