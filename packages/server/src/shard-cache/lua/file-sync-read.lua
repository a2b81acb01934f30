--[[
  One atomic read for the file sync handshake: the clock read in the same step covers every
  update returned.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] doc (the file's update list)   KEYS[4] seq   KEYS[5] kinds
  ARGV[1] fileId
  Reply: { loaded ('1' or '0'), inTree ('1' or '0'), shard clock, binary ('1' or '0'), update1, update2, ... }
  (no updates for a binary file: it has no Yjs document)
]]
local out = { redis.call('HGET', KEYS[1], 'loaded') or '0', '0', redis.call('GET', KEYS[4]) or '0', '0' }
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return out end
out[2] = '1'
if redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then
  out[4] = '1'
  return out
end
for _, u in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do table.insert(out, u) end
return out
