--[[
  What a join answers with, in one atomic step after the shard is loaded: the cached meta, the
  tree with each file's kind, the shard clock they are current at, and whether an instance other
  than the joiner's may have a socket in the shard (includes/member-instances.lua: then the join's
  notices to the room are published to other instances, else only this instance's sockets get them).
  KEYS[1] meta   KEYS[2] tree   KEYS[3] kinds   KEYS[4] seq   KEYS[5] member-instances
  ARGV[1] the joiner's instance ('' for none: others are taken as present)
  Reply: { loaded ('1' or '0'), shard clock, othersPresent ('1' or '0'), meta (flat field, value
  list), tree (flat fileId, path list), kinds (flat fileId, kind list) }; only the first three
  when the shard is not loaded.
]]
-- @include now-ms
-- @include member-instances
local loaded = redis.call('HGET', KEYS[1], 'loaded') or '0'
local others = '1'
if ARGV[1] ~= '' and not othersPresent(KEYS[5], ARGV[1], nowMs()) then others = '0' end
local version = redis.call('GET', KEYS[4]) or '0'
if loaded ~= '1' then return { loaded, version, others } end
return {
  loaded,
  version,
  others,
  redis.call('HGETALL', KEYS[1]),
  redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[3]),
}
