--[[
  After a sync committed: replaces the first n updates of each written file with their merged
  state (only if no other compaction ran since the snapshot: same gen), which becomes the file's
  synced base (basebytes), drops deleted files' lists, and clears dirty entries not newer than
  what was written. Recounts the shard's byte totals (shard-bytes) in every branch that changes
  them: O(files) once per sync.

  Only while the shard is still the load the snapshot was taken from (same loadId). If Redis
  lost the shard meanwhile (a flush, or a restart without persistence) and it was loaded again
  from the database, that load's clock restarted at the watermark it read, which may be below
  the one this sync just committed, and its edits (clients' restores included) carry versions
  the database now claims to hold. So (stale): move the clock past the committed watermark,
  append the snapshot's merged states (Yjs merges are idempotent), and mark every dirty or
  merged file dirty again with a fresh version, so the next sync writes them all. Not cached
  at all: the next load reads the database after this commit — unless a load holds the lock
  now (it may have read the database before the commit): loading, the caller retries.

  KEYS[1] meta   KEYS[2] tree   KEYS[3] dirty   KEYS[4] gen   KEYS[5] docbytes   KEYS[6] seq
  KEYS[7] lock   KEYS[8] basebytes   KEYS[9] kinds
  ARGV[1] docPrefix   ARGV[2] snapshotTimeMs   ARGV[3] loadId   ARGV[4] snapshot clock
  ARGV[5..] per file, five values: fileId, version, gen, n (updates merged), merged state
  Reply: { 'COMPACTED', dirty entries left } | { 'STALE' } | { 'LOADING' }
]]
-- @include is-loaded
-- @include note-first-dirty
-- @include shard-bytes
local prefix = ARGV[1]
if not isLoaded(KEYS[1]) then
  if redis.call('EXISTS', KEYS[7]) == 1 then return { 'LOADING' } end
  return { 'STALE' }
end
if (redis.call('HGET', KEYS[1], 'loadId') or '') ~= ARGV[3] then
  if tonumber(redis.call('GET', KEYS[6]) or '0') < tonumber(ARGV[4]) then redis.call('SET', KEYS[6], ARGV[4]) end
  local again, seen = {}, {}
  for i = 5, #ARGV, 5 do
    local f, merged = ARGV[i], ARGV[i + 4]
    if string.len(merged) > 0 and redis.call('HEXISTS', KEYS[2], f) == 1 then
      if redis.call('HEXISTS', KEYS[9], f) == 1 then
        -- A binary file's bytes are not merged but replaced: the committed ones win over what the
        -- load read, unless someone uploaded newer bytes since (the file is dirty in this load).
        if not redis.call('ZSCORE', KEYS[3], f) then
          redis.call('DEL', prefix .. f)
          redis.call('RPUSH', prefix .. f, merged)
          redis.call('HSET', KEYS[5], f, string.len(merged))
          redis.call('HDEL', KEYS[8], f)
          redis.call('HINCRBY', KEYS[4], f, 1)
        end
      else
        redis.call('RPUSH', prefix .. f, merged)
        redis.call('HINCRBY', KEYS[5], f, string.len(merged))
      end
      if not seen[f] then seen[f] = true; table.insert(again, f) end
    end
  end
  -- The appended states are unsynced as far as this load knows: the next sync writes them.
  recountShardBytes(KEYS[1], KEYS[5], KEYS[8])
  for _, f in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if not seen[f] then seen[f] = true; table.insert(again, f) end
  end
  for _, f in ipairs(again) do redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[6]), f) end
  if #again > 0 then noteFirstDirty(KEYS[1]) end
  return { 'STALE' }
end
for i = 5, #ARGV, 5 do
  local f, v, g, n, merged = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local doc = prefix .. f
  local score = redis.call('ZSCORE', KEYS[3], f)
  if redis.call('HEXISTS', KEYS[2], f) == 1 then
    if (redis.call('HGET', KEYS[4], f) or '0') == g and redis.call('LLEN', doc) >= n then
      local rest = redis.call('LRANGE', doc, n, -1)
      local bytes = string.len(merged)
      for _, u in ipairs(rest) do bytes = bytes + string.len(u) end
      redis.call('LTRIM', doc, n, -1)
      redis.call('LPUSH', doc, merged)
      redis.call('HINCRBY', KEYS[4], f, 1)
      redis.call('HSET', KEYS[5], f, bytes)
      redis.call('HSET', KEYS[8], f, string.len(merged))
    end
  elseif score == false or tonumber(score) <= v then
    redis.call('DEL', doc)
    redis.call('HDEL', KEYS[4], f)
    redis.call('HDEL', KEYS[5], f)
    redis.call('HDEL', KEYS[8], f)
    redis.call('HDEL', KEYS[9], f)
  end
  if score ~= false and tonumber(score) <= v then redis.call('ZREM', KEYS[3], f) end
end
recountShardBytes(KEYS[1], KEYS[5], KEYS[8])
local left = redis.call('ZCARD', KEYS[3])
if left == 0 then
  redis.call('HDEL', KEYS[1], 'firstDirtyAt')
elseif redis.call('HEXISTS', KEYS[1], 'firstDirtyAt') == 1 then
  redis.call('HSET', KEYS[1], 'firstDirtyAt', ARGV[2])
end
return { 'COMPACTED', left }
