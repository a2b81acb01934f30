--[[
  Drops the marks of shards the scheduler found with nothing unsynced, each only if its counter
  is still the one the scheduler read before its inspection (no change was marked since).
  KEYS[1] dirty-shards
  ARGV pairs: shard id, counter seen
  Reply: how many marks were dropped.
]]
local n = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
