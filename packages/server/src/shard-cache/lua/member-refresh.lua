--[[
  Extends the expiry of this instance's members of a shard, re-adding any that Redis lost (a
  flush, or a restart without persistence), so a shard people are in is never taken for empty.
  KEYS[1] members
  ARGV[1] ttlMs   ARGV[2..] members
  Reply: how many members were added or changed.
]]
-- @include now-ms
local expiry = nowMs() + tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'CH', expiry, ARGV[i])
end
return n
