--[[
  What the scheduler needs to know about one open shard, in one round trip. Prunes expired
  members (the only periodic pruning: see member-add.lua), and the members of dead instances
  whose leases have not run out yet, and reports how many.
  KEYS[1] meta   KEYS[2] dirty   KEYS[3] members   KEYS[4] lock   KEYS[5] docbytes
  ARGV[1] docPrefix   ARGV[2..] pairs: dead instance id, its lease bound (see instances-expire.lua)
  Reply: { loaded ('1' or '0'), firstDirtyAt ('0' for none), dirty files, live members,
           lock held (1 or 0), unsynced updates, unsynced bytes, expired members pruned }
]]
-- @include now-ms
local expired = 0
for i = 2, #ARGV, 2 do
  local head = ARGV[i] .. ':'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[i + 1])) do
    if string.sub(m, 1, #head) == head then expired = expired + redis.call('ZREM', KEYS[3], m) end
  end
end
expired = expired + redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', nowMs())
local dirty = redis.call('ZRANGE', KEYS[2], 0, -1)
local updates, bytes = 0, 0
for _, f in ipairs(dirty) do
  -- The first entry of a list is the stored (or last synced) state; the rest are unsynced.
  updates = updates + math.max(0, redis.call('LLEN', ARGV[1] .. f) - 1)
  bytes = bytes + tonumber(redis.call('HGET', KEYS[5], f) or '0')
end
return {
  redis.call('HGET', KEYS[1], 'loaded') or '0',
  redis.call('HGET', KEYS[1], 'firstDirtyAt') or '0',
  #dirty,
  redis.call('ZCARD', KEYS[3]),
  redis.call('EXISTS', KEYS[4]),
  updates,
  bytes,
  expired
}
