--[[
  Adds a member to a shard, or extends its expiry. Membership scripts count live members (expiry
  in the future) and leave expired ones in place: only INSPECT (the scheduler) and EVICT prune
  them, so the scheduler sees every expiry.
  KEYS[1] members
  ARGV[1] member (`<instance>:<socket>`)   ARGV[2] ttlMs
  Reply: the number of live members.
]]
-- @include now-ms
local now = nowMs()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
