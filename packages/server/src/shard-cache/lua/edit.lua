--[[
  Appends a Yjs update to a file and marks the file dirty, in one atomic step.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] doc (the file's update list)   KEYS[4] dirty
  KEYS[5] seq (the shard clock)   KEYS[6] docbytes
  ARGV[1] fileId   ARGV[2] update (binary)   ARGV[3] maxDocBytes
  Reply: the new shard clock, which is the edit's version.
  Errors: NOT_LOADED, FILE_NOT_FOUND, FILE_TOO_LARGE
]]
-- @include is-loaded
-- @include note-first-dirty
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return redis.error_reply('FILE_NOT_FOUND') end
local size = tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0') + string.len(ARGV[2])
if size > tonumber(ARGV[3]) then return redis.error_reply('FILE_TOO_LARGE') end
local v = redis.call('INCR', KEYS[5])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[6], ARGV[1], size)
redis.call('ZADD', KEYS[4], v, ARGV[1])
noteFirstDirty(KEYS[1])
return v
