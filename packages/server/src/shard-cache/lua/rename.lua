--[[
  Renames a file, or moves every file of a folder, idempotently when given an operation id.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] ops   KEYS[6] paths
  KEYS[7] ops-pending (replies not yet in the database, see includes/ops.lua)
  ARGV[1] from (canonical)   ARGV[2] to (canonical)   ARGV[3] opId or ''
  ARGV[4] from, folded   ARGV[5] to, folded
  Reply: JSON { v = version, moves = { { id, from, to }, ... }, load = the shard's loadId,
    replayed = true when nothing was applied }
  Errors: NOT_LOADED, NOT_INDEXED, PATH_INVALID (a folder into itself, in any case), FILE_NOT_FOUND,
    FILE_EXISTS (a path taken in any case, or a folder spelled otherwise in the shard)
  Cost: O(depth × log n) for the checks, plus O(files moved × log n) to move them; a folder moved
  into one that already holds files checks each moved file, O(files moved × depth × log n).
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
-- Into itself, also under another spelling of itself (one folder on Windows and macOS).
if string.sub(foldedTo, 1, #foldedFrom + 1) == foldedFrom .. '/' then return redis.error_reply('PATH_INVALID') end
local moving, ids, isFolder = {}, {}, false
for _, f in ipairs(filesAt(KEYS[6], KEYS[2], from, foldedFrom)) do
  local id, p, folded = f[1], f[2], f[3]
  ids[id] = true
  if p ~= from then isFolder = true end
  table.insert(moving, { id, p, to .. string.sub(p, #from + 1), folded, foldedTo .. string.sub(folded, #foldedFrom + 1) })
end
if #moving == 0 then return redis.error_reply('FILE_NOT_FOUND') end
-- Nothing but the moving files may sit at or above the destination, and the folders above it
-- (and the destination itself, for a folder) may not be spelled otherwise by the files that stay.
-- When nothing else sits below it either (a fresh name, a case-only rename), no moved file can
-- collide; otherwise each moved file is checked on its own.
local checked, spelled = {}, {}
local move = { path = from, folded = foldedFrom, count = #moving, isFolder = isFolder }
local function spelledApart(folder, folded)
  if spelled[folder] == nil then spelled[folder] = spelledOtherwise(KEYS[6], KEYS[2], folder, folded, move) end
  return spelled[folder]
end
if othersAbove(KEYS[6], foldedTo, ids, checked) or anyFolderAbove(to, foldedTo, spelledApart)
  or (isFolder and spelledApart(to, foldedTo)) then
  return redis.error_reply('FILE_EXISTS')
end
if othersAt(KEYS[6], foldedTo, ids) then
  for _, m in ipairs(moving) do
    if othersAt(KEYS[6], m[5], ids) or othersAbove(KEYS[6], m[5], ids, checked)
      or anyFolderAbove(m[3], m[5], spelledApart) then
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
return remember(KEYS[5], KEYS[7], ARGV[3], { v = v, moves = moves, load = redis.call('HGET', KEYS[1], 'loadId') })
