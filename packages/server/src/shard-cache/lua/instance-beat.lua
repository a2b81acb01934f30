--[[
  An instance's heartbeat, written after it refreshed its members. Records `<until>:<leaseMs>`:
  the Redis time after which the instance counts as dead if it never beats again (now + member
  TTL + heartbeat interval: a REST member added just after this beat has expired by then), and
  how long its socket members' leases last (what the scheduler's prune of its members needs).
  KEYS[1] instances
  ARGV[1] instance id   ARGV[2] member TTL ms   ARGV[3] heartbeat interval ms   ARGV[4] lease ms
  Reply: 1 when the entry was new (first beat, or Redis lost it, or the scheduler took this
  instance for dead and pruned its members), else 0.
]]
-- @include now-ms
local untilMs = nowMs() + tonumber(ARGV[2]) + tonumber(ARGV[3])
return redis.call('HSET', KEYS[1], ARGV[1], untilMs .. ':' .. ARGV[4])
