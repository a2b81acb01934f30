--[[
  Adds a member to a shard, or extends its expiry. Membership scripts count live members (expiry
  in the future) and leave expired ones in place: only INSPECT (the scheduler) and EVICT prune
  them, so the scheduler sees every expiry. A socket's member also records its instance in
  member-instances (see includes/member-instances.lua), in the same step.
  KEYS[1] members   KEYS[2] member-instances
  ARGV[1] member (`<instance>:<socket>`)   ARGV[2] ttlMs   ARGV[3] the member's instance ('' for a REST write's)
  Reply: the number of live members.
]]
-- @include now-ms
-- @include member-instances
local now = nowMs()
local expiry = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
if ARGV[3] ~= '' then noteInstance(KEYS[2], ARGV[3], expiry) end
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
