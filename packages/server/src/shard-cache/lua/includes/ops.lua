--[[
  Idempotent tree operations. The ops hash maps an operation id (chosen by the client) to the JSON
  reply its operation got; an empty operation id means "not idempotent".
  replay(opsKey, opId) -> the stored reply marked replayed (JSON), or nil when the id is new.
  remember(opsKey, pendingKey, opId, reply) -> the reply as JSON, after storing it under the id
    in both hashes and refreshing their expiry to 24 h. The pending hash holds the replies not
    yet written to the database: the next tree written through takes them along
    (IShardRepository.writeTree), so a reload after Redis lost the shard answers them again.
  replayedReply(json) -> the same reply with `replayed = true`.
  A reply's version `v` is written as a string: cjson writes numbers with 14 significant digits,
  and a shard clock has 16 (it starts at the Redis time in microseconds, lua/populate.lua).
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

local function remember(opsKey, pendingKey, opId, reply)
  if type(reply.v) == 'number' then reply.v = string.format('%d', reply.v) end
  local encoded = cjson.encode(reply)
  if opId ~= '' then
    redis.call('HSET', opsKey, opId, encoded)
    redis.call('EXPIRE', opsKey, 86400)
    redis.call('HSET', pendingKey, opId, encoded)
    redis.call('EXPIRE', pendingKey, 86400)
  end
  return encoded
end
