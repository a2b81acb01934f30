--[[
  Puts a binary file: creates it at `path`, or replaces the bytes of the binary file already there.
  A binary file's update list holds its bytes as one entry (the last entry, should a stale
  compaction have appended one: compact.lua), and `kinds` marks its id `binary`.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] docbytes   KEYS[6] paths
  KEYS[7] basebytes   KEYS[8] gen   KEYS[9] kinds
  ARGV[1] docPrefix   ARGV[2] fileId for a new file   ARGV[3] path (canonical)   ARGV[4] path, folded
  ARGV[5] bytes (binary)   ARGV[6] maxFiles   ARGV[7] maxUnsyncedBytes (the shard's)
  Reply: JSON { v = version, id, path, created = true when the file is new, load = the shard's loadId }
  Errors: NOT_LOADED, NOT_INDEXED, FILE_KIND_MISMATCH (a text file is at the path), FILE_EXISTS
    (the path taken in another case, a folder there, or a folder spelled otherwise), TOO_MANY_FILES,
    BACKLOG (the bytes would take the shard's unsynced bytes past maxUnsyncedBytes)
  A replacement bumps the file's compaction generation, so a sync that read the old bytes does not
  put them back when it compacts. Cost: O(depth × log n).
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include path-index
-- @include shard-bytes
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
if not isIndexed(KEYS[6], KEYS[2]) then return redis.error_reply('NOT_INDEXED') end
local path, folded, bytes = ARGV[3], ARGV[4], ARGV[5]
local added = string.len(bytes)
local id, created = nil, false
for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[6], '[' .. folded .. '\0', '(' .. folded .. '\1')) do
  local _, at = parseEntry(member)
  if redis.call('HGET', KEYS[2], at) == path then id = at end
end
local held, base = 0, 0
if id then
  if redis.call('HGET', KEYS[9], id) ~= 'binary' then return redis.error_reply('FILE_KIND_MISMATCH') end
  held = tonumber(redis.call('HGET', KEYS[5], id) or '0')
  base = tonumber(redis.call('HGET', KEYS[7], id) or '0')
else
  id, created = ARGV[2], true
  if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[6]) then return redis.error_reply('TOO_MANY_FILES') end
  local function spelledApart(folder, f)
    return spelledOtherwise(KEYS[6], KEYS[2], folder, f, nil)
  end
  if othersAt(KEYS[6], folded, {}) or othersAbove(KEYS[6], folded, {}, {})
    or anyFolderAbove(path, folded, spelledApart) then
    return redis.error_reply('FILE_EXISTS')
  end
end
-- The old bytes leave the backlog with the list (the synced ones leave the synced total).
local unsynced = unsyncedBytes(KEYS[1])
if unsynced and unsynced - held + base + added > tonumber(ARGV[7]) then return redis.error_reply('BACKLOG') end
local v = redis.call('INCR', KEYS[4])
local doc = ARGV[1] .. id
redis.call('DEL', doc)
redis.call('RPUSH', doc, bytes)
redis.call('HSET', KEYS[5], id, added)
redis.call('HDEL', KEYS[7], id)
redis.call('HINCRBY', KEYS[8], id, 1)
addShardBytes(KEYS[1], added - held, -base)
if created then
  redis.call('HSET', KEYS[2], id, path)
  redis.call('HSET', KEYS[9], id, 'binary')
  redis.call('ZADD', KEYS[6], 0, indexEntry(folded, id))
end
redis.call('ZADD', KEYS[3], v, id)
noteFirstDirty(KEYS[1])
-- The version as a string: cjson writes numbers with 14 significant digits (see includes/ops.lua).
return cjson.encode({ v = string.format('%d', v), id = id, path = path, created = created, load = redis.call('HGET', KEYS[1], 'loadId') })
