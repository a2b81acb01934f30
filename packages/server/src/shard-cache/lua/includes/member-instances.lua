--[[
  Which instances have sockets in a shard: the `member-instances` zset, instance id → the latest
  expiry of its socket members there. It is a superset of the instances with live socket members
  (an entry lives at least as long as each of that instance's members): the edit script skips the
  publish to other instances when no live entry but the editing instance's own is left, so an
  entry must never be missing while its instance has a live member, and may outlive them (that
  only costs a publish nobody needs).
  noteInstance(key, instanceId, expiry): records that the instance has a member until `expiry` at
  least; the key expires with its latest entry.
  forgetInstanceIfGone(membersKey, key, instanceId, now): drops the instance's entry when none of
  its members is live any more (scans the shard's members: leaves are rare, edits are not).
  othersPresent(key, instanceId, now) -> true when an instance other than this one may have a live
  member, or when this instance's own entry is missing (Redis lost the set: then nothing is known).
]]
local function noteInstance(key, instanceId, expiry)
  local held = tonumber(redis.call('ZSCORE', key, instanceId))
  if held == nil or held < expiry then redis.call('ZADD', key, expiry, instanceId) end
  local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, latest[2])
end

local function forgetInstanceIfGone(membersKey, key, instanceId, now)
  local prefix = instanceId .. ':'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', membersKey, '(' .. now, '+inf')) do
    if string.sub(m, 1, #prefix) == prefix then return end
  end
  redis.call('ZREM', key, instanceId)
end

local function othersPresent(key, instanceId, now)
  local live = redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf', 'LIMIT', 0, 2)
  return not (#live == 1 and live[1] == instanceId)
end
