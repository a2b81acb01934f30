--[[
  isLoaded(metaKey) -> true when the shard's loaded marker is set. Scripts that need the shard
  refuse with `return redis.error_reply('NOT_LOADED')` when it is not.
]]
local function isLoaded(metaKey)
  return redis.call('HGET', metaKey, 'loaded') == '1'
end
