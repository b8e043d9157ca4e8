-- Adds tasks to one queue: ready when their time has come, delayed otherwise. A task
-- already in the queue moves (its score and place are replaced). A task that holds a
-- lease is left where it is: it is in flight (its start may not be in Postgres yet, see
-- docs/ARCHITECTURE.md "Delivery"), and only claim, release, takeExpired and remove end
-- leases; the end of its lease puts it back if it must run again. A task named twice
-- takes its last quintuple.
--
-- One variadic command per key, not a handful per task: a batch of 500 costs a few
-- commands instead of 2,500. The caller keeps each call to CHUNK (500) tasks, well under
-- Lua's unpack limit (8,000 values).
--
-- KEYS[1]  ready ZSET (task id → ready score)
-- KEYS[2]  delayed ZSET (task id → runAt)
-- KEYS[3]  delayed-order HASH (task id → the ready score it gets when promoted)
-- KEYS[4]  task-types HASH (task id → type): what a claim routes by
-- KEYS[5]  task-groups HASH (task id → limit group): what a claim counts against
-- KEYS[6]  leases HASH (task id → lease id)
-- ARGV[1]  now, epoch ms
-- ARGV[2..] quintuples: task id, ready score, runAt (epoch ms), type ('' for any
--           worker), limit group ('' for none)
--
-- Returns the number of tasks that went to ready.
local now = tonumber(ARGV[1])
local ids = {}
for i = 2, #ARGV, 5 do
  ids[#ids + 1] = ARGV[i]
end
if #ids == 0 then
  return 0
end
local held = redis.call('HMGET', KEYS[6], unpack(ids))

local ready_ids, ready_args = {}, {}
local delayed_ids, delayed_args, order_args = {}, {}, {}
local typed, untyped, grouped = {}, {}, {}
local seen = {}
-- Last quintuple first, so a repeated id keeps its last one.
for k = #ids, 1, -1 do
  local id = ids[k]
  if not held[k] and not seen[id] then
    seen[id] = true
    local i = 2 + (k - 1) * 5
    local score, run_at, task_type, group = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    if tonumber(run_at) <= now then
      ready_ids[#ready_ids + 1] = id
      ready_args[#ready_args + 1] = score
      ready_args[#ready_args + 1] = id
    else
      delayed_ids[#delayed_ids + 1] = id
      delayed_args[#delayed_args + 1] = run_at
      delayed_args[#delayed_args + 1] = id
      order_args[#order_args + 1] = id
      order_args[#order_args + 1] = score
    end
    if task_type ~= '' then
      typed[#typed + 1] = id
      typed[#typed + 1] = task_type
    else
      untyped[#untyped + 1] = id
    end
    if group ~= '' then
      grouped[#grouped + 1] = id
      grouped[#grouped + 1] = group
    end
  end
end

if #ready_ids > 0 then
  redis.call('ZREM', KEYS[2], unpack(ready_ids))
  redis.call('HDEL', KEYS[3], unpack(ready_ids))
  redis.call('ZADD', KEYS[1], unpack(ready_args))
end
if #delayed_ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(delayed_ids))
  redis.call('ZADD', KEYS[2], unpack(delayed_args))
  redis.call('HSET', KEYS[3], unpack(order_args))
end
if #typed > 0 then
  redis.call('HSET', KEYS[4], unpack(typed))
end
if #untyped > 0 then
  redis.call('HDEL', KEYS[4], unpack(untyped))
end
if #grouped > 0 then
  redis.call('HSET', KEYS[5], unpack(grouped))
end
return #ready_ids
