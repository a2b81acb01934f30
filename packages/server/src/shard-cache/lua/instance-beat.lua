--[[
  An instance's heartbeat, written after it refreshed its members: records the Redis time by
  which all of them have expired if it never beats again (now + member TTL + heartbeat interval:
  a member added just after this beat expires at most that late).
  KEYS[1] instances
  ARGV[1] instance id   ARGV[2] member TTL ms   ARGV[3] heartbeat interval ms
  Reply: 1 when the entry was new (first beat, or Redis lost it, or the scheduler took this
  instance for dead), else 0.
]]
-- @include now-ms
return redis.call('HSET', KEYS[1], ARGV[1], nowMs() + tonumber(ARGV[2]) + tonumber(ARGV[3]))
