--[[
  Counts a shard's live members.
  KEYS[1] members
  Reply: the number of members whose expiry is in the future.
]]
-- @include now-ms
return redis.call('ZCOUNT', KEYS[1], '(' .. nowMs(), '+inf')
