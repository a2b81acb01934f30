--[[
  Renames a file, or moves every file of a folder, idempotently when given an operation id.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] ops   KEYS[6] paths
  ARGV[1] from (canonical)   ARGV[2] to (canonical)   ARGV[3] opId or ''
  ARGV[4] from, folded   ARGV[5] to, folded
  Reply: JSON { v = version, moves = { { id, from, to }, ... }, replayed = true when nothing was applied }
  Errors: NOT_LOADED, NOT_INDEXED, PATH_INVALID (a folder into itself), FILE_NOT_FOUND, FILE_EXISTS
  Cost: O(files moved × depth × log n), whatever the size of the shard.
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include path-index
-- @include ops
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
if not isIndexed(KEYS[6], KEYS[2]) then return redis.error_reply('NOT_INDEXED') end
local again = replay(KEYS[5], ARGV[3])
if again then return again end
local from, to, foldedFrom, foldedTo = ARGV[1], ARGV[2], ARGV[4], ARGV[5]
if string.sub(to, 1, #from + 1) == from .. '/' then return redis.error_reply('PATH_INVALID') end
local moving, ids = {}, {}
for _, f in ipairs(filesAt(KEYS[6], KEYS[2], from, foldedFrom)) do
  local id, p, folded = f[1], f[2], f[3]
  ids[id] = true
  table.insert(moving, { id, p, to .. string.sub(p, #from + 1), folded, foldedTo .. string.sub(folded, #foldedFrom + 1) })
end
if #moving == 0 then return redis.error_reply('FILE_NOT_FOUND') end
-- Nothing but the moving files may sit at or above the destination. When nothing else sits
-- below it either (a fresh name, a case-only rename), no moved file can collide; otherwise each
-- moved file is checked on its own.
local checked = {}
if othersAbove(KEYS[6], foldedTo, ids, checked) then return redis.error_reply('FILE_EXISTS') end
if othersAt(KEYS[6], foldedTo, ids) then
  for _, m in ipairs(moving) do
    if othersAt(KEYS[6], m[5], ids) or othersAbove(KEYS[6], m[5], ids, checked) then
      return redis.error_reply('FILE_EXISTS')
    end
  end
end
local v = redis.call('INCR', KEYS[4])
local moves = {}
inChunks(moving, 200, function(first, last)
  local tree, removed, added, dirty = {}, {}, {}, {}
  for i = first, last do
    local m = moving[i]
    table.insert(tree, m[1]); table.insert(tree, m[3])
    table.insert(removed, indexEntry(m[4], m[1]))
    table.insert(added, 0); table.insert(added, indexEntry(m[5], m[1]))
    table.insert(dirty, v); table.insert(dirty, m[1])
    table.insert(moves, { m[1], m[2], m[3] })
  end
  redis.call('HSET', KEYS[2], unpack(tree))
  redis.call('ZREM', KEYS[6], unpack(removed))
  redis.call('ZADD', KEYS[6], unpack(added))
  redis.call('ZADD', KEYS[3], unpack(dirty))
end)
noteFirstDirty(KEYS[1])
return remember(KEYS[5], ARGV[3], { v = v, moves = moves })
