--[[
  Finds instances that stopped their heartbeat long enough for all their members to have
  expired, and forgets them.
  KEYS[1] instances
  Reply: the ids of the instances removed.
]]
-- @include now-ms
local now = nowMs()
local flat = redis.call('HGETALL', KEYS[1])
local dead = {}
for i = 1, #flat, 2 do
  if tonumber(flat[i + 1]) < now then table.insert(dead, flat[i]) end
end
if #dead > 0 then redis.call('HDEL', KEYS[1], unpack(dead)) end
return dead
