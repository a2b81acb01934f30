--[[
  Renames a file, or moves every file of a folder, idempotently when given an operation id.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] ops
  ARGV[1] from (canonical)   ARGV[2] to (canonical)   ARGV[3] opId or ''
  Reply: JSON { v = version, moves = { { id, from, to }, ... }, replayed = true when nothing was applied }
  Errors: NOT_LOADED, PATH_INVALID (a folder into itself), FILE_NOT_FOUND, FILE_EXISTS
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include collides
-- @include ops
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
local again = replay(KEYS[5], ARGV[3])
if again then return again end
local from, to = ARGV[1], ARGV[2]
if string.sub(to, 1, #from + 1) == from .. '/' then return redis.error_reply('PATH_INVALID') end
local all = redis.call('HGETALL', KEYS[2])
local moving, staying = {}, {}
for i = 1, #all, 2 do
  local id, p = all[i], all[i + 1]
  if p == from or string.sub(p, 1, #from + 1) == from .. '/' then
    table.insert(moving, { id, p, to .. string.sub(p, #from + 1) })
  else
    table.insert(staying, p)
  end
end
if #moving == 0 then return redis.error_reply('FILE_NOT_FOUND') end
for _, m in ipairs(moving) do
  for _, p in ipairs(staying) do
    if collides(p, m[3]) then return redis.error_reply('FILE_EXISTS') end
  end
end
local v = redis.call('INCR', KEYS[4])
for _, m in ipairs(moving) do
  redis.call('HSET', KEYS[2], m[1], m[3])
  redis.call('ZADD', KEYS[3], v, m[1])
end
noteFirstDirty(KEYS[1])
return remember(KEYS[5], ARGV[3], { v = v, moves = moving })
