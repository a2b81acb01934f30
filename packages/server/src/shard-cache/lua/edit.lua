--[[
  Appends a Yjs update to a file and marks the file dirty, in one atomic step.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] doc (the file's update list)   KEYS[4] dirty
  KEYS[5] seq (the shard clock)   KEYS[6] docbytes   KEYS[7] kinds   KEYS[8] member-instances
  KEYS[9] the shard's history authors (who changed it since its last checkpoint)
  ARGV[1] fileId   ARGV[2] update (binary)   ARGV[3] maxDocBytes   ARGV[4] maxUnsyncedBytes (the shard's)
  ARGV[5] the editing socket's instance ('' when the edit does not come from a socket of this instance)
  ARGV[6] the author's user id ('' to note none)   ARGV[7] the author's note (token and name)   ARGV[8] the notes' TTL ms
  Reply: { the new shard clock, which is the edit's version; 1 when another instance may have a
    socket in the shard (its broadcast must be published), 0 when only ARGV[5] has (this instance's
    sockets are all there is to tell) }. Atomic with the member scripts: a socket member added on
    another instance before this runs is seen; one added after it reads the shard (its join
    snapshot) after this edit. See includes/member-instances.lua.
  Errors: NOT_LOADED, FILE_NOT_FOUND, FILE_KIND_MISMATCH (a binary file), FILE_TOO_LARGE (the file's list would pass maxDocBytes),
    BACKLOG (the shard's unsynced bytes would pass maxUnsyncedBytes: sync it, then retry)
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include shard-bytes
-- @include now-ms
-- @include member-instances
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return redis.error_reply('FILE_NOT_FOUND') end
if redis.call('HEXISTS', KEYS[7], ARGV[1]) == 1 then return redis.error_reply('FILE_KIND_MISMATCH') end
local added = string.len(ARGV[2])
local size = tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0') + added
if size > tonumber(ARGV[3]) then return redis.error_reply('FILE_TOO_LARGE') end
local unsynced = unsyncedBytes(KEYS[1])
if unsynced and unsynced + added > tonumber(ARGV[4]) then return redis.error_reply('BACKLOG') end
local v = redis.call('INCR', KEYS[5])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[6], ARGV[1], size)
addShardBytes(KEYS[1], added, 0)
redis.call('ZADD', KEYS[4], v, ARGV[1])
noteFirstDirty(KEYS[1])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[9], ARGV[6], ARGV[7])
  redis.call('PEXPIRE', KEYS[9], ARGV[8])
end
if ARGV[5] == '' then return { v, 1 } end
return { v, othersPresent(KEYS[8], ARGV[5], nowMs()) and 1 or 0 }
