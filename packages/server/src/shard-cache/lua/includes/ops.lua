--[[
  Idempotent tree operations. The ops hash maps an operation id (chosen by the client) to the JSON
  reply its operation got; an empty operation id means "not idempotent".
  replay(opsKey, opId) -> the stored reply marked replayed (JSON), or nil when the id is new.
  remember(opsKey, opId, reply) -> the reply as JSON, after storing it under the id and
    refreshing the hash's expiry to 24 h.
  replayedReply(json) -> the same reply with `replayed = true`.
]]
local function replayedReply(encoded)
  local reply = cjson.decode(encoded)
  reply.replayed = true
  return cjson.encode(reply)
end

local function replay(opsKey, opId)
  if opId == '' then return nil end
  local stored = redis.call('HGET', opsKey, opId)
  if not stored then return nil end
  return replayedReply(stored)
end

local function remember(opsKey, opId, reply)
  local encoded = cjson.encode(reply)
  if opId ~= '' then
    redis.call('HSET', opsKey, opId, encoded)
    redis.call('EXPIRE', opsKey, 86400)
  end
  return encoded
end
