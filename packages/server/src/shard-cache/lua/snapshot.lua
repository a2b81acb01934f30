--[[
  Atomic read of everything a sync needs.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] seq   KEYS[5] gen   KEYS[6] kinds
  KEYS[7] ops-pending (operation replies the database does not hold yet, includes/ops.lua)
  ARGV[1] docPrefix (a file's update list is docPrefix .. fileId)
  Reply: { loaded ('1' or '0'), shard clock, firstDirtyAt (ms, '0' for none), loadId ('' for none),
           { opId1, reply1, opId2, reply2, ... } (the pending replies: the sync writes them too),
           then per dirty file: { fileId, version, path ('' when deleted), gen, kind ('binary' or ''),
           update1, update2, ... } } (a binary file's bytes are its last entry)
]]
local loaded = redis.call('HGET', KEYS[1], 'loaded') or '0'
local seq = redis.call('GET', KEYS[4]) or '0'
local firstDirtyAt = redis.call('HGET', KEYS[1], 'firstDirtyAt') or '0'
local loadId = redis.call('HGET', KEYS[1], 'loadId') or ''
local out = { loaded, seq, firstDirtyAt, loadId, redis.call('HGETALL', KEYS[7]) }
local dirty = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for i = 1, #dirty, 2 do
  local f = dirty[i]
  local entry = { f, dirty[i + 1], redis.call('HGET', KEYS[2], f) or '', redis.call('HGET', KEYS[5], f) or '0',
    redis.call('HGET', KEYS[6], f) or '' }
  for _, u in ipairs(redis.call('LRANGE', ARGV[1] .. f, 0, -1)) do table.insert(entry, u) end
  table.insert(out, entry)
end
return out
