-- Removes a worker's registry entry if the given server instance still owns it: a worker
-- that reconnected to another instance has a newer entry, which stays.
--
-- KEYS[1]  worker registry HASH (worker id → JSON with a "serverId" field)
-- ARGV[1]  worker id
-- ARGV[2]  server id of the instance whose stream ended
--
-- Returns 1 when the entry was removed, 0 otherwise.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then
  return 0
end
if cjson.decode(entry).serverId ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
