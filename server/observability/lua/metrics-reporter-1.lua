-- Takes or keeps the queue-wide metrics reporter lease (server/observability/reporter_lease.ts).
--
-- KEYS[1]  STRING  the lease: the id of the instance that reports queue-wide gauges
-- ARGV[1]  string  this instance's id
-- ARGV[2]  integer lease time to live, ms
--
-- Returns 1 when this instance holds the lease now (kept or taken, TTL renewed), 0 when another does.
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
