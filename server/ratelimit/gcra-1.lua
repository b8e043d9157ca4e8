-- Takes one request from a token bucket kept as GCRA's "theoretical arrival time".
--
-- KEYS[1]  the bucket (string: TAT in epoch milliseconds, may be fractional); expires
--          when the bucket is full again, so idle buckets cost nothing.
-- ARGV[1]  now, epoch milliseconds (from the caller's clock, so tests control time)
-- ARGV[2]  emission interval in milliseconds: period / limit
-- ARGV[3]  period in milliseconds: how far ahead of now the TAT may run (the burst)
--
-- Returns {allowed (1 or 0), retry_after_ms, remaining}: retry_after_ms is 0 when
-- allowed; remaining is how many more requests would pass right now.
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end

local new_tat = tat + interval
local allow_at = new_tat - period
-- A hundredth of a millisecond of slack absorbs float error from fractional intervals.
if allow_at - now > 0.01 then
  return {0, math.ceil(allow_at - now), 0}
end

redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
return {1, 0, math.floor((now - allow_at + 0.01) / interval)}
