--[[
  Deletes a file, or every file of a folder, idempotently when given an operation id. The
  update lists stay until the sync that writes the deletion removes them (COMPACT).
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] ops
  ARGV[1] path (canonical)   ARGV[2] opId or ''
  Reply: JSON { v = version, files = { { id, path }, ... }, replayed = true when nothing was applied }
  Errors: NOT_LOADED, FILE_NOT_FOUND
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include ops
if not isLoaded(KEYS[1]) then return redis.error_reply('NOT_LOADED') end
local again = replay(KEYS[5], ARGV[2])
if again then return again end
local target = ARGV[1]
local all = redis.call('HGETALL', KEYS[2])
local gone = {}
for i = 1, #all, 2 do
  local id, p = all[i], all[i + 1]
  if p == target or string.sub(p, 1, #target + 1) == target .. '/' then table.insert(gone, { id, p }) end
end
if #gone == 0 then return redis.error_reply('FILE_NOT_FOUND') end
local v = redis.call('INCR', KEYS[4])
for _, g in ipairs(gone) do
  redis.call('HDEL', KEYS[2], g[1])
  redis.call('ZADD', KEYS[3], v, g[1])
end
noteFirstDirty(KEYS[1])
return remember(KEYS[5], ARGV[2], { v = v, files = gone })
