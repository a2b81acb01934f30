--[[
  Deletes every key of a deleted shard except its lock (which the caller holds): unlike evict,
  whoever is in it and whatever is unsynced goes too, because the shard itself is gone.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] members   KEYS[5] seq   KEYS[6] gen
  KEYS[7] docbytes   KEYS[8] ops   KEYS[9] paths   KEYS[10] basebytes   KEYS[11] kinds   KEYS[12] member-instances
  KEYS[13] ops-pending
  ARGV[1] docPrefix
  Reply: how many keys were deleted.
]]
local n = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do n = n + redis.call('DEL', ARGV[1] .. f) end
-- Deleted files whose lists a compaction has not dropped yet.
for _, f in ipairs(redis.call('HKEYS', KEYS[7])) do n = n + redis.call('DEL', ARGV[1] .. f) end
return n + redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13])
