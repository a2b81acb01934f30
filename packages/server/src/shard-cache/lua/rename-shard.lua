--[[
  Sets the cached name of a shard, only while it is loaded (a rename racing an eviction must not
  leave a stray meta hash behind).
  KEYS[1] meta
  ARGV[1] name   ARGV[2] updatedAt (ISO time)
  Reply: 1 when the cached meta was updated, 0 when the shard is not loaded.
]]
-- @include is-loaded
if not isLoaded(KEYS[1]) then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'updatedAt', ARGV[2])
return 1
