--[[
  Deletes every key of a shard, but only when nobody is in it, nothing is unsynced and no
  populate holds the lock. Prunes expired members first.
  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] members   KEYS[5] lock   KEYS[6] seq
  KEYS[7] gen   KEYS[8] docbytes   KEYS[9] ops   KEYS[10] paths   KEYS[11] basebytes   KEYS[12] kinds
  KEYS[13] member-instances   KEYS[14] ops-pending
  ARGV[1] docPrefix
  Reply: 'EVICTED' | 'MEMBERS' (someone is in it) | 'DIRTY' (unsynced changes) | 'LOCKED' (a load runs)
]]
-- @include now-ms
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', nowMs())
if redis.call('ZCARD', KEYS[4]) > 0 then return 'MEMBERS' end
if redis.call('ZCARD', KEYS[3]) > 0 then return 'DIRTY' end
if redis.call('EXISTS', KEYS[5]) == 1 then return 'LOCKED' end
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('DEL', ARGV[1] .. f) end
-- Deleted files whose lists a compaction has not dropped yet.
for _, f in ipairs(redis.call('HKEYS', KEYS[8])) do redis.call('DEL', ARGV[1] .. f) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14])
return 'EVICTED'
