--[[
  Removes a member from a shard; when it was its instance's last live member there, also the
  instance's entry in member-instances (see includes/member-instances.lua).
  KEYS[1] members   KEYS[2] member-instances
  ARGV[1] member   ARGV[2] the member's instance ('' for a REST write's)
  Reply: the number of live members left in the whole cluster.
]]
-- @include now-ms
-- @include member-instances
local now = nowMs()
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then forgetInstanceIfGone(KEYS[1], KEYS[2], ARGV[2], now) end
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
