--[[
  Releases the populate lock, only if this caller still owns it.
  KEYS[1] lock
  ARGV[1] token (the value the caller set)
  Reply: 1 when released, 0 when the lock was not ours (expired, or taken by someone else).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
