--[[
  nowMs() -> milliseconds since the epoch by the Redis clock (TIME), the one clock every
  instance shares.
]]
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
