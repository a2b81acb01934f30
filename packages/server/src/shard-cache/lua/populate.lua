--[[
  Writes one chunk of a load's files (read from the database, under the populate lock) and, with
  the last chunk, the shard clock and the meta with the loaded marker, then releases the lock if it
  is still the caller's: one step where a command per key took four round trips (the chunk's
  pipeline, a MULTI for the clock and meta, then unlock.lua). Same keys
  and values: DEL of the chunk's update lists, an RPUSH of each file's state, one HSET of the tree,
  HDEL (text) and HSET (binary) of the kinds, one ZADD of the path index, one HSET each of the
  sizes. An error stops the script before the marker, so a failed load leaves the shard closed.
  KEYS[1] tree   KEYS[2] kinds   KEYS[3] paths   KEYS[4] docbytes   KEYS[5] basebytes   KEYS[6] seq
  KEYS[7] meta   KEYS[8] lock
  ARGV[1] docPrefix   ARGV[2] files in the chunk (n)   ARGV[3] '1' with the last chunk
  ARGV[4] the database's highest version (the clock starts above it, and at the Redis time in
  microseconds when that is higher: see below; a seq that is already set is kept)
  ARGV[5] the lock's token (the caller's)
  ARGV[6 ..] per file, 5 values: id, path, path index entry, kind ('binary' or 'text'), state;
  then, with the last chunk, the meta's field/value pairs (the loaded marker among them).
  Reply: 1.
]]
local n = tonumber(ARGV[2])
if n > 0 then
  local docs, tree, texts, binary, paths, sizes = {}, {}, {}, {}, {}, {}
  for i = 0, n - 1 do
    local at = 6 + i * 5
    local id, state = ARGV[at], ARGV[at + 4]
    docs[#docs + 1] = ARGV[1] .. id
    tree[#tree + 1] = id
    tree[#tree + 1] = ARGV[at + 1]
    paths[#paths + 1] = 0
    paths[#paths + 1] = ARGV[at + 2]
    if ARGV[at + 3] == 'binary' then
      binary[#binary + 1] = id
      binary[#binary + 1] = 'binary'
    else
      texts[#texts + 1] = id
    end
    sizes[#sizes + 1] = id
    sizes[#sizes + 1] = string.len(state)
  end
  redis.call('DEL', unpack(docs))
  for i = 0, n - 1 do redis.call('RPUSH', docs[i + 1], ARGV[6 + i * 5 + 4]) end
  redis.call('HSET', KEYS[1], unpack(tree))
  if #texts > 0 then redis.call('HDEL', KEYS[2], unpack(texts)) end
  if #binary > 0 then redis.call('HSET', KEYS[2], unpack(binary)) end
  redis.call('ZADD', KEYS[3], unpack(paths))
  redis.call('HSET', KEYS[4], unpack(sizes))
  redis.call('HSET', KEYS[5], unpack(sizes))
end
if ARGV[3] == '1' then
  -- A load's clock starts at the Redis time in microseconds, not where the database's versions
  -- end: a load that Redis lost (FLUSHALL, a failover) handed out versions above the database's,
  -- and a sync that read that load may still write its batch after this load wrote newer ones.
  -- Starting at the time puts every version of this load above every version of the lost one (a
  -- load hands out far fewer than one version per microsecond of its life), so the late batch is
  -- older than this load's tree and files and changes nothing they hold. 16 digits: below 2^53
  -- until the year 2255, exact in Lua's numbers and in JavaScript's.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[6], math.max(tonumber(ARGV[4]), now), 'NX')
  local meta = {}
  for i = 6 + n * 5, #ARGV do meta[#meta + 1] = ARGV[i] end
  redis.call('HSET', KEYS[7], unpack(meta))
  if redis.call('GET', KEYS[8]) == ARGV[5] then redis.call('DEL', KEYS[8]) end
end
return 1
