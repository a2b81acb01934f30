--[[
  noteFirstDirty(metaKey): records when the shard's oldest unsynced change happened (the
  `firstDirtyAt` field of meta, Redis clock), for the sync lag; kept if already set.
]]
-- @include now-ms
local function noteFirstDirty(metaKey)
  if redis.call('HEXISTS', metaKey, 'firstDirtyAt') == 0 then
    redis.call('HSET', metaKey, 'firstDirtyAt', nowMs())
  end
end
