--[[
  The first step of a load: whether the shard is loaded already, else an attempt at the populate
  lock, in one round trip (a loaded shard is never locked for nothing).
  KEYS[1] meta   KEYS[2] lock
  ARGV[1] token (the lock's value if taken)   ARGV[2] the lock's TTL in ms
  Reply: 'loaded', 'locked' (the caller holds the lock now) or 'busy' (someone else holds it).
]]
if redis.call('HGET', KEYS[1], 'loaded') == '1' then return 'loaded' end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return 'locked' end
return 'busy'
