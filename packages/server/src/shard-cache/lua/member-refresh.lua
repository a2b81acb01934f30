--[[
  Extends the expiry of this instance's members of a shard, re-adding any that Redis lost (a
  flush, or a restart without persistence), so a shard people are in is never taken for empty;
  and the instance's entry in member-instances with them (see includes/member-instances.lua).
  KEYS[1] members   KEYS[2] member-instances
  ARGV[1] ttlMs   ARGV[2] this instance   ARGV[3..] members
  Reply: how many members were added or changed.
]]
-- @include now-ms
-- @include member-instances
local expiry = nowMs() + tonumber(ARGV[1])
local n = 0
for i = 3, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'CH', expiry, ARGV[i])
end
noteInstance(KEYS[2], ARGV[2], expiry)
return n
