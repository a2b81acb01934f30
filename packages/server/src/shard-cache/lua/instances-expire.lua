--[[
  Finds instances whose heartbeat lapsed (every member they registered with the member TTL has
  expired) and forgets them. For each, the bound of its socket members' leases: every member it
  added or refreshed before it died has an expiry up to `until + lease`; one written after the
  instance came back (it writes them all again when its entry was gone) has a later one.
  KEYS[1] instances
  Reply: flat list: instance id, lease bound (ms), …
]]
-- @include now-ms
local now = nowMs()
local flat = redis.call('HGETALL', KEYS[1])
local dead, out = {}, {}
for i = 1, #flat, 2 do
  local sep = string.find(flat[i + 1], ':', 1, true)
  local untilMs = tonumber(sep and string.sub(flat[i + 1], 1, sep - 1) or flat[i + 1])
  local lease = tonumber(sep and string.sub(flat[i + 1], sep + 1) or '0')
  if untilMs < now then
    table.insert(dead, flat[i])
    table.insert(out, flat[i])
    table.insert(out, tostring(untilMs + lease))
  end
end
if #dead > 0 then redis.call('HDEL', KEYS[1], unpack(dead)) end
return out
