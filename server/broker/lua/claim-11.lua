-- Takes the best ready tasks of one queue that this worker may run, within the queue's
-- and each task's limit group's limits, and leases each to the worker. Popping and
-- leasing happen in this one script, so a task is never handed out twice, never leaves
-- ready without a lease, and no limit is exceeded by claims racing on other instances.
--
-- Tasks are visited in ready order. One whose type the worker did not declare, or whose
-- limit group is full, is passed over and stays ready; the scan gives up after passing
-- over SCAN_LIMIT tasks, so a claim costs O((taken + SCAN_LIMIT) log n) at most.
--
-- Limit groups span queues, so their keys (built from KEYS[11] and the group name) are
-- outside the queue's hash slot: see docs/ARCHITECTURE.md on Redis Cluster.
--
-- KEYS[1]  ready ZSET (task id → ready score)
-- KEYS[2]  paused STRING (present while the queue is paused)
-- KEYS[3]  leases HASH (task id → lease id)
-- KEYS[4]  lease-workers HASH (task id → worker id)
-- KEYS[5]  lease-expiry ZSET (task id → expiresAt): its size is the queue's running count
-- KEYS[6]  worker-leases base: KEYS[6] .. worker id is that worker's SET of task ids
-- KEYS[7]  limits HASH of the queue (concurrency, rate, burst)
-- KEYS[8]  bucket HASH of the queue's rate limit (tokens, at)
-- KEYS[9]  task-types HASH (task id → type) of ready and delayed tasks
-- KEYS[10] task-groups HASH (task id → limit group) of the queue's tasks that have one
-- KEYS[11] group base: KEYS[11] .. group .. '}:limits' | '}:bucket' | '}:running'
-- ARGV[1]  worker id
-- ARGV[2]  expiresAt, epoch ms
-- ARGV[3]  now, epoch ms (refills the rate buckets)
-- ARGV[4]  n: how many task types follow (0: any type)
-- ARGV[5 .. 4+n] the task types the worker handles
-- ARGV[5+n ..] one fresh lease id per task wanted: their count is the most to take
--
-- Returns a flat array: task id, lease id, ready score, ... in ready order; empty when
-- the queue is paused, at a limit, or has nothing this worker may take. When a limit
-- kept the claim short, one more element follows: the ms until a rate token is due, or
-- 0 when the limit is a concurrency limit (a running task must end first).
local SCAN_LIMIT = 1000
local PAGE = 100

if redis.call('EXISTS', KEYS[2]) == 1 then
  return {}
end
local worker, expires_at, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ntypes = tonumber(ARGV[4])
local types = nil
if ntypes > 0 then
  types = {}
  for i = 1, ntypes do
    types[ARGV[4 + i]] = true
  end
end
local first_lease = 5 + ntypes
local want = #ARGV - first_lease + 1

-- A bucket refilled to now: tokens, never above burst. A bucket not seen yet is full.
local function refill(key, rate, burst)
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(b[1]), tonumber(b[2])
  if tokens == nil or at == nil then
    return burst, now
  end
  if now > at then
    tokens = math.min(burst, tokens + (now - at) * rate / 1000)
    at = now
  end
  return tokens, at
end

local function limits_of(key)
  local l = redis.call('HMGET', key, 'concurrency', 'rate', 'burst')
  local concurrency, rate, burst = tonumber(l[1]) or 0, tonumber(l[2]) or 0, tonumber(l[3]) or 0
  if rate > 0 and burst < 1 then
    burst = math.max(1, math.ceil(rate))
  end
  return concurrency, rate, burst
end

-- The soonest a limit that cut this claim lets more through (nil: no limit did).
local limited = nil
local function limit_hit(ms)
  if limited == nil or ms < limited then
    limited = ms
  end
end
local function token_due(tokens, rate)
  return math.max(1, math.ceil((1 - tokens) * 1000 / rate))
end

local asked = want
local q_concurrency, q_rate, q_burst = limits_of(KEYS[7])
if q_concurrency > 0 then
  want = math.min(want, q_concurrency - redis.call('ZCARD', KEYS[5]))
  if want < asked then
    limit_hit(0)
  end
end
local q_tokens, q_at = 0, now
if q_rate > 0 then
  q_tokens, q_at = refill(KEYS[8], q_rate, q_burst)
  if math.floor(q_tokens) < want then
    want = math.floor(q_tokens)
    limit_hit(token_due(q_tokens - want, q_rate))
  end
end
if want <= 0 then
  return { limited }
end

-- Limit groups met in this claim: their limits, running count and tokens.
local groups = {}
local function group_of(name)
  local g = groups[name]
  if g == nil then
    local base = KEYS[11] .. name .. '}:'
    g = { base = base, taken = 0 }
    g.concurrency, g.rate, g.burst = limits_of(base .. 'limits')
    if g.concurrency > 0 then
      g.running = redis.call('SCARD', base .. 'running')
    end
    if g.rate > 0 then
      g.tokens, g.at = refill(base .. 'bucket', g.rate, g.burst)
    end
    groups[name] = g
  end
  return g
end

local function group_allows(g)
  if g.concurrency > 0 and g.running + g.taken >= g.concurrency then
    limit_hit(0)
    return false
  end
  if g.rate > 0 and g.tokens - g.taken < 1 then
    limit_hit(token_due(g.tokens - g.taken, g.rate))
    return false
  end
  return true
end

local out = {}
local taken, skipped = 0, 0
while taken < want and skipped < SCAN_LIMIT do
  -- Tasks taken left the set; those passed over are still before the next page.
  local page = redis.call('ZRANGE', KEYS[1], skipped, skipped + PAGE - 1, 'WITHSCORES')
  if #page == 0 then
    break
  end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    local ok = true
    if types then
      local t = redis.call('HGET', KEYS[9], id)
      if t and not types[t] then
        ok = false
      end
    end
    local group_name, g = redis.call('HGET', KEYS[10], id), nil
    if ok and group_name then
      g = group_of(group_name)
      ok = group_allows(g)
    end
    if ok then
      local lease_id = ARGV[first_lease + taken]
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[9], id)
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
      if g then
        g.taken = g.taken + 1
        redis.call('SADD', g.base .. 'running', id)
      end
      taken = taken + 1
      out[#out + 1] = id
      out[#out + 1] = lease_id
      out[#out + 1] = score
      if taken >= want then
        break
      end
    else
      skipped = skipped + 1
      if skipped >= SCAN_LIMIT then
        break
      end
    end
  end
  if #page < PAGE * 2 then
    break
  end
end

if q_rate > 0 and taken > 0 then
  redis.call('HSET', KEYS[8], 'tokens', q_tokens - taken, 'at', q_at)
end
for _, g in pairs(groups) do
  if g.rate > 0 and g.taken > 0 then
    redis.call('HSET', g.base .. 'bucket', 'tokens', g.tokens - g.taken, 'at', g.at)
  end
end
if limited ~= nil then
  out[#out + 1] = limited
end
return out
