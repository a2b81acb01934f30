--[[
  The shard's byte totals, two fields of meta kept by every script that changes docbytes or
  basebytes: `heldBytes` (the sum of docbytes: every Yjs byte the shard's update lists hold) and
  `syncedBytes` (the sum of basebytes: the states a load or a sync's compaction left at the head
  of a list, which the database holds). Their difference is the shard's backlog, what
  MAX_SHARD_UNSYNCED_BYTES bounds. A load writes both; a shard loaded by a version without them
  has neither and is neither counted nor bounded until it is loaded again.
  unsyncedBytes(metaKey) -> the backlog in bytes, or nil when the shard is not counted.
  addShardBytes(metaKey, held, synced): adds to both totals (nothing when not counted).
  recountShardBytes(metaKey, docbytesKey, basebytesKey): sets both totals to the sums of the two
    hashes (nothing when not counted). O(files): compaction runs it once per sync, so totals a
    version without them left behind (an older instance's edit or compaction during a rolling
    upgrade) are right again after the next sync.
]]
local function unsyncedBytes(metaKey)
  local totals = redis.call('HMGET', metaKey, 'heldBytes', 'syncedBytes')
  if not totals[1] then return nil end
  return tonumber(totals[1]) - tonumber(totals[2] or '0')
end

local function addShardBytes(metaKey, held, synced)
  if redis.call('HEXISTS', metaKey, 'heldBytes') == 0 then return end
  if held ~= 0 then redis.call('HINCRBY', metaKey, 'heldBytes', held) end
  if synced ~= 0 then redis.call('HINCRBY', metaKey, 'syncedBytes', synced) end
end

local function recountShardBytes(metaKey, docbytesKey, basebytesKey)
  if redis.call('HEXISTS', metaKey, 'heldBytes') == 0 then return end
  local held, synced = 0, 0
  for _, n in ipairs(redis.call('HVALS', docbytesKey)) do held = held + tonumber(n) end
  for _, n in ipairs(redis.call('HVALS', basebytesKey)) do synced = synced + tonumber(n) end
  redis.call('HSET', metaKey, 'heldBytes', held, 'syncedBytes', synced)
end
