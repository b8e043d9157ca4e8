-- Takes or renews the alerts evaluation lease (server/alerts/lease.ts).
-- KEYS[1] STRING the lease: the holding instance's id, expiring after its TTL
-- ARGV[1] this instance's id
-- ARGV[2] the lease TTL in milliseconds; 0 gives the lease up (only its holder can)
-- Returns 1 when this instance holds the lease now, 0 when another one does (or it gave it up).
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) == 0 then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
