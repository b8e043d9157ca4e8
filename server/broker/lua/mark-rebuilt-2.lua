-- Marks the broker rebuilt, unless its state was lost again while the rebuild ran or
-- a later rebuild (another instance's) has started since.
--
-- KEYS[1]  rebuilding STRING (token of the latest rebuild started)
-- KEYS[2]  rebuilt STRING (present once rebuilt)
-- ARGV[1]  the token this rebuild set when it found a rebuild needed; "" when it set none
--
-- Returns 1 when marked; 0 when the token is gone (a flush meanwhile: this rebuild may
-- have missed tasks, so the next needsRebuild answers true again); 2 when another
-- rebuild's token replaced it (that rebuild marks when it is done).
if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[1])
  if not current then
    return 0
  end
  if current ~= ARGV[1] then
    return 2
  end
end
redis.call('SET', KEYS[2], '1')
redis.call('DEL', KEYS[1])
return 1
