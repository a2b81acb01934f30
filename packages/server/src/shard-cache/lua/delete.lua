--[[
  Deletes a file, or every file of a folder, idempotently when given an operation id. The
  update lists stay until the sync that writes the deletion removes them (compact.lua).
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] ops   KEYS[6] paths
  KEYS[7] ops-pending (replies not yet in the database, see includes/ops.lua)
  ARGV[1] path (canonical)   ARGV[2] opId or ''   ARGV[3] path, folded
  Reply: JSON { v = version, files = { { id, path }, ... }, load = the shard's loadId,
    replayed = true when nothing was applied }
  Errors: NOT_LOADED, NOT_INDEXED, FILE_NOT_FOUND
  Cost: O(files deleted × log n).
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include path-index
-- @include ops
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
if not isIndexed(KEYS[6], KEYS[2]) then return redis.error_reply('NOT_INDEXED') end
local again = replay(KEYS[5], ARGV[2])
if again then return again end
local found = filesAt(KEYS[6], KEYS[2], ARGV[1], ARGV[3])
if #found == 0 then return redis.error_reply('FILE_NOT_FOUND') end
local v = redis.call('INCR', KEYS[4])
local gone = {}
inChunks(found, 200, function(first, last)
  local ids, removed, dirty = {}, {}, {}
  for i = first, last do
    local f = found[i]
    table.insert(ids, f[1])
    table.insert(removed, indexEntry(f[3], f[1]))
    table.insert(dirty, v); table.insert(dirty, f[1])
    table.insert(gone, { f[1], f[2] })
  end
  redis.call('HDEL', KEYS[2], unpack(ids))
  redis.call('ZREM', KEYS[6], unpack(removed))
  redis.call('ZADD', KEYS[3], unpack(dirty))
end)
noteFirstDirty(KEYS[1])
return remember(KEYS[5], KEYS[7], ARGV[2], { v = v, files = gone, load = redis.call('HGET', KEYS[1], 'loadId') })
