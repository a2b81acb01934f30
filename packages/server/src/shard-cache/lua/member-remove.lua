--[[
  Removes a member from a shard.
  KEYS[1] members
  ARGV[1] member
  Reply: the number of live members left in the whole cluster.
]]
-- @include now-ms
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZCOUNT', KEYS[1], '(' .. nowMs(), '+inf')
