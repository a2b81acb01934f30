--[[
  Creates a file, idempotently when given an operation id.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] doc (the new file's update list)   KEYS[4] dirty
  KEYS[5] seq   KEYS[6] docbytes   KEYS[7] ops   KEYS[8] paths (the folded path index)
  KEYS[9] basebytes   KEYS[10] ops-pending (replies not yet in the database, see includes/ops.lua)
  ARGV[1] fileId   ARGV[2] path (canonical)   ARGV[3] initial state (binary)   ARGV[4] maxFiles
  ARGV[5] opId or ''   ARGV[6] '1' when the client chose the file id, else ''
  ARGV[7] the folded path   ARGV[8] maxUnsyncedBytes (the shard's)
  Reply: JSON { v = version, id, path, load = the shard's loadId (which load the file is in),
    replayed = true when nothing was applied }.
  A client-chosen id already in the tree at this very path is the same file: replayed, at the
  current clock.
  Errors: NOT_LOADED, NOT_INDEXED (no path index: rebuild it and retry), FILE_EXISTS (path
  taken in any case, a folder spelled otherwise in the shard, or a client-chosen id the shard has
  or had and has not synced), TOO_MANY_FILES, BACKLOG (the initial state would take the shard's
  unsynced bytes past maxUnsyncedBytes: sync it, then retry)
  Cost: O(depth × log n).
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include path-index
-- @include ops
-- @include shard-bytes
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
if not isIndexed(KEYS[8], KEYS[2]) then return redis.error_reply('NOT_INDEXED') end
local again = replay(KEYS[7], ARGV[5])
if again then return again end
local id, path = ARGV[1], ARGV[2]
if ARGV[6] == '1' then
  local at = redis.call('HGET', KEYS[2], id)
  if at == path then
    local clock = tonumber(redis.call('GET', KEYS[5]) or '0')
    return replayedReply(remember(KEYS[7], KEYS[10], ARGV[5], { v = clock, id = id, path = path, load = redis.call('HGET', KEYS[1], 'loadId') }))
  end
  if at or redis.call('EXISTS', KEYS[3]) == 1 or redis.call('ZSCORE', KEYS[4], id) then
    return redis.error_reply('FILE_EXISTS')
  end
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return redis.error_reply('TOO_MANY_FILES') end
local function spelledApart(folder, folded)
  return spelledOtherwise(KEYS[8], KEYS[2], folder, folded, nil)
end
if othersAt(KEYS[8], ARGV[7], {}) or othersAbove(KEYS[8], ARGV[7], {}, {})
  or anyFolderAbove(path, ARGV[7], spelledApart) then
  return redis.error_reply('FILE_EXISTS')
end
local added = string.len(ARGV[3])
local unsynced = unsyncedBytes(KEYS[1])
if unsynced and unsynced + added > tonumber(ARGV[8]) then return redis.error_reply('BACKLOG') end
local v = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[2], id, path)
redis.call('ZADD', KEYS[8], 0, indexEntry(ARGV[7], id))
-- A new id has no list; were there one, its bytes leave the totals with it.
local held = tonumber(redis.call('HGET', KEYS[6], id) or '0')
local base = tonumber(redis.call('HGET', KEYS[9], id) or '0')
redis.call('DEL', KEYS[3])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[6], id, added)
redis.call('HDEL', KEYS[9], id)
addShardBytes(KEYS[1], added - held, -base)
redis.call('ZADD', KEYS[4], v, id)
noteFirstDirty(KEYS[1])
return remember(KEYS[7], KEYS[10], ARGV[5], { v = v, id = id, path = path, load = redis.call('HGET', KEYS[1], 'loadId') })
