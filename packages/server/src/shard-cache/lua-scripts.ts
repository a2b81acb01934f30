/**
 * The atomic steps of the shard cache, as Redis Lua scripts. Every key a script touches
 * belongs to one shard and shares its hash tag (doc keys are derived from the doc prefix
 * passed in ARGV, which is in the same slot), so the scripts run unchanged on Redis Cluster.
 *
 * Errors are returned as `error_reply` with one of our error codes as the message so the
 * caller can map them without parsing prose.
 */

const NOW_MS = `local __t = redis.call('TIME'); local now = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)`;

// Records when the shard's oldest unsynced change happened (KEYS[1] is meta), for sync lag.
const NOTE_FIRST_DIRTY = `
if redis.call('HEXISTS', KEYS[1], 'firstDirtyAt') == 0 then
  ${NOW_MS}
  redis.call('HSET', KEYS[1], 'firstDirtyAt', now)
end`;

// Refuses a step on a shard that is not loaded (KEYS[1] is meta).
const REQUIRE_LOADED = `if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then return redis.error_reply('NOT_LOADED') end`;

// Idempotent tree operations: `ops` maps an operation id to the JSON reply it got. `replay`
// returns that reply marked replayed (or nil); `remember` stores a reply (refreshing the key's
// 24 h expiry) and returns it encoded. An empty opId means "not idempotent".
const OPS = `
local function replayedReply(encoded)
  local reply = cjson.decode(encoded)
  reply.replayed = true
  return cjson.encode(reply)
end
local function replay(ops, opId)
  if opId == '' then return nil end
  local stored = redis.call('HGET', ops, opId)
  if not stored then return nil end
  return replayedReply(stored)
end
local function remember(ops, opId, reply)
  local encoded = cjson.encode(reply)
  if opId ~= '' then
    redis.call('HSET', ops, opId, encoded)
    redis.call('EXPIRE', ops, 86400)
  end
  return encoded
end`;

// Path collision rules shared by create and rename: exact or ASCII-case-insensitive twins,
// a file where a folder is, or a folder where a file is.
const COLLIDES = `
local function collides(existing, target)
  if existing == target or string.lower(existing) == string.lower(target) then return true end
  local le, lt = string.lower(existing), string.lower(target)
  if string.sub(le, 1, #lt + 1) == lt .. '/' then return true end
  if string.sub(lt, 1, #le + 1) == le .. '/' then return true end
  return false
end`;

/** KEYS: meta, tree, doc, dirty, seq, docbytes. ARGV: fileId, update, maxDocBytes. → new version */
export const EDIT = `
${REQUIRE_LOADED}
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return redis.error_reply('FILE_NOT_FOUND') end
local size = tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0') + string.len(ARGV[2])
if size > tonumber(ARGV[3]) then return redis.error_reply('FILE_TOO_LARGE') end
local v = redis.call('INCR', KEYS[5])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[6], ARGV[1], size)
redis.call('ZADD', KEYS[4], v, ARGV[1])
${NOTE_FIRST_DIRTY}
return v
`;

/**
 * KEYS: meta, tree, doc, dirty, seq, docbytes, ops. ARGV: fileId, path, state, maxFiles, opId or '',
 * '1' when the client chose the file id. → JSON { v, id, path, replayed? }
 */
export const CREATE_FILE = `
${COLLIDES}
${OPS}
${REQUIRE_LOADED}
local again = replay(KEYS[7], ARGV[5])
if again then return again end
local id, path = ARGV[1], ARGV[2]
if ARGV[6] == '1' then
  local at = redis.call('HGET', KEYS[2], id)
  if at == path then
    -- Already created (its op id was lost, e.g. with the shard): the same outcome, no change.
    return replayedReply(remember(KEYS[7], ARGV[5], { v = tonumber(redis.call('GET', KEYS[5]) or '0'), id = id, path = path }))
  end
  if at or redis.call('EXISTS', KEYS[3]) == 1 or redis.call('ZSCORE', KEYS[4], id) then
    return redis.error_reply('FILE_EXISTS')
  end
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return redis.error_reply('TOO_MANY_FILES') end
local paths = redis.call('HVALS', KEYS[2])
for _, p in ipairs(paths) do
  if collides(p, path) then return redis.error_reply('FILE_EXISTS') end
end
local v = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[2], id, path)
redis.call('DEL', KEYS[3])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[6], id, string.len(ARGV[3]))
redis.call('ZADD', KEYS[4], v, id)
${NOTE_FIRST_DIRTY}
return remember(KEYS[7], ARGV[5], { v = v, id = id, path = path })
`;

/**
 * Renames a file, or every file of a folder. KEYS: meta, tree, dirty, seq, ops. ARGV: from, to,
 * opId or ''. → JSON { v, moves = { { id, from, to }, ... }, replayed? }
 */
export const RENAME = `
${COLLIDES}
${OPS}
${REQUIRE_LOADED}
local again = replay(KEYS[5], ARGV[3])
if again then return again end
local from, to = ARGV[1], ARGV[2]
if string.sub(to, 1, #from + 1) == from .. '/' then return redis.error_reply('PATH_INVALID') end
local all = redis.call('HGETALL', KEYS[2])
local moving, staying = {}, {}
for i = 1, #all, 2 do
  local id, p = all[i], all[i + 1]
  if p == from or string.sub(p, 1, #from + 1) == from .. '/' then
    table.insert(moving, { id, p, to .. string.sub(p, #from + 1) })
  else
    table.insert(staying, p)
  end
end
if #moving == 0 then return redis.error_reply('FILE_NOT_FOUND') end
for _, m in ipairs(moving) do
  for _, p in ipairs(staying) do
    if collides(p, m[3]) then return redis.error_reply('FILE_EXISTS') end
  end
end
local v = redis.call('INCR', KEYS[4])
for _, m in ipairs(moving) do
  redis.call('HSET', KEYS[2], m[1], m[3])
  redis.call('ZADD', KEYS[3], v, m[1])
end
${NOTE_FIRST_DIRTY}
return remember(KEYS[5], ARGV[3], { v = v, moves = moving })
`;

/**
 * Deletes a file, or every file of a folder. The doc lists stay until the sync that
 * writes the deletion removes them. KEYS: meta, tree, dirty, seq, ops. ARGV: path, opId or ''.
 * → JSON { v, files = { { id, path }, ... }, replayed? }
 */
export const DELETE = `
${OPS}
${REQUIRE_LOADED}
local again = replay(KEYS[5], ARGV[2])
if again then return again end
local target = ARGV[1]
local all = redis.call('HGETALL', KEYS[2])
local gone = {}
for i = 1, #all, 2 do
  local id, p = all[i], all[i + 1]
  if p == target or string.sub(p, 1, #target + 1) == target .. '/' then table.insert(gone, { id, p }) end
end
if #gone == 0 then return redis.error_reply('FILE_NOT_FOUND') end
local v = redis.call('INCR', KEYS[4])
for _, g in ipairs(gone) do
  redis.call('HDEL', KEYS[2], g[1])
  redis.call('ZADD', KEYS[3], v, g[1])
end
${NOTE_FIRST_DIRTY}
return remember(KEYS[5], ARGV[2], { v = v, files = gone })
`;

// Membership scripts count live members (expiry in the future) but leave expired ones in place:
// only INSPECT (the scheduler) and EVICT prune them, so the scheduler sees every expiry and can
// tell the room that an instance's members died.

/** Adds or refreshes a member. KEYS: members. ARGV: member, ttlMs. → live member count */
export const MEMBER_ADD = `
${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/** Removes a member. KEYS: members. ARGV: member. → live member count left */
export const MEMBER_REMOVE = `
${NOW_MS}
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/**
 * Extends the expiry of this instance's live members, re-adding any that Redis lost (a flush or
 * a restart without persistence), so a shard people are in is never taken for empty.
 * KEYS: members. ARGV: ttlMs, member...
 */
export const MEMBER_REFRESH = `
${NOW_MS}
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return n
`;

/** Live member count. KEYS: members. */
export const MEMBER_COUNT = `
${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/** Releases a lock only if we still own it. KEYS: lock. ARGV: token. */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Atomic read of everything a sync needs. KEYS: meta, tree, dirty, seq, gen. ARGV: docPrefix.
 * → { loaded, seq, firstDirtyAt, loadId, { fileId, version, path or '', gen, update1, update2, ... }, ... }
 */
export const SNAPSHOT = `
local loaded = redis.call('HGET', KEYS[1], 'loaded') or '0'
local seq = redis.call('GET', KEYS[4]) or '0'
local firstDirtyAt = redis.call('HGET', KEYS[1], 'firstDirtyAt') or '0'
local loadId = redis.call('HGET', KEYS[1], 'loadId') or ''
local out = { loaded, seq, firstDirtyAt, loadId }
local dirty = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for i = 1, #dirty, 2 do
  local f = dirty[i]
  local entry = { f, dirty[i + 1], redis.call('HGET', KEYS[2], f) or '', redis.call('HGET', KEYS[5], f) or '0' }
  local updates = redis.call('LRANGE', ARGV[1] .. f, 0, -1)
  for _, u in ipairs(updates) do table.insert(entry, u) end
  table.insert(out, entry)
end
return out
`;

/**
 * After a sync committed: replace the first n updates of each written file with their merged
 * state (only if no other compaction ran since the snapshot: same gen), drop deleted files'
 * lists, and clear dirty entries not newer than what was written.
 *
 * Only while the shard is still the load the snapshot was taken from (same loadId). If Redis
 * lost the shard meanwhile (a flush, or a restart without persistence) and it was loaded again
 * from the database, that load's clock restarted at the watermark it read, which may be below
 * the one this sync just committed, and its edits (clients' restores included) carry versions
 * the database now claims to hold. So: move the clock past the committed watermark, append the
 * snapshot's merged states (Yjs merges are idempotent), and mark every dirty or merged file
 * dirty again with a fresh version, so the next sync writes them all. Not cached at all: the
 * next load reads the database after this commit, unless a load holds the lock now (it may
 * have read the database before the commit): → -2, the caller retries once it is done.
 * KEYS: meta, tree, dirty, gen, docbytes, seq, lock. ARGV: docPrefix, snapshotTimeMs, loadId,
 * snapshotSeq, then per file: fileId, version, gen, n, mergedState.
 * → number of dirty entries left; -1 when the shard is not the snapshot's load; -2 while loading
 */
export const COMPACT = `
local prefix = ARGV[1]
if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then
  if redis.call('EXISTS', KEYS[7]) == 1 then return -2 end
  return -1
end
if (redis.call('HGET', KEYS[1], 'loadId') or '') ~= ARGV[3] then
  if tonumber(redis.call('GET', KEYS[6]) or '0') < tonumber(ARGV[4]) then redis.call('SET', KEYS[6], ARGV[4]) end
  local again, seen = {}, {}
  for i = 5, #ARGV, 5 do
    local f, merged = ARGV[i], ARGV[i + 4]
    if string.len(merged) > 0 and redis.call('HEXISTS', KEYS[2], f) == 1 then
      redis.call('RPUSH', prefix .. f, merged)
      redis.call('HINCRBY', KEYS[5], f, string.len(merged))
      if not seen[f] then seen[f] = true; table.insert(again, f) end
    end
  end
  for _, f in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if not seen[f] then seen[f] = true; table.insert(again, f) end
  end
  for _, f in ipairs(again) do redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[6]), f) end
  if #again > 0 then
    ${NOTE_FIRST_DIRTY}
  end
  return -1
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
    end
  elseif score == false or tonumber(score) <= v then
    redis.call('DEL', doc)
    redis.call('HDEL', KEYS[4], f)
    redis.call('HDEL', KEYS[5], f)
  end
  if score ~= false and tonumber(score) <= v then redis.call('ZREM', KEYS[3], f) end
end
local left = redis.call('ZCARD', KEYS[3])
if left == 0 then
  redis.call('HDEL', KEYS[1], 'firstDirtyAt')
elseif redis.call('HEXISTS', KEYS[1], 'firstDirtyAt') == 1 then
  redis.call('HSET', KEYS[1], 'firstDirtyAt', ARGV[2])
end
return left
`;

/**
 * Deletes every key of a shard, but only when nobody is in it, nothing is unsynced and no
 * populate holds the lock. KEYS: meta, tree, dirty, members, lock, seq, gen, docbytes, ops.
 * ARGV: docPrefix. → 'EVICTED' | 'MEMBERS' | 'DIRTY' | 'LOCKED'
 */
export const EVICT = `
${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZCARD', KEYS[4]) > 0 then return 'MEMBERS' end
if redis.call('ZCARD', KEYS[3]) > 0 then return 'DIRTY' end
if redis.call('EXISTS', KEYS[5]) == 1 then return 'LOCKED' end
local ids = redis.call('HKEYS', KEYS[2])
for _, f in ipairs(ids) do redis.call('DEL', ARGV[1] .. f) end
local held = redis.call('HKEYS', KEYS[8])
for _, f in ipairs(held) do redis.call('DEL', ARGV[1] .. f) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7], KEYS[8], KEYS[9])
return 'EVICTED'
`;

/**
 * What the scheduler needs to know about one open shard, in one round trip.
 * KEYS: meta, dirty, members, lock, docbytes. ARGV: docPrefix.
 * → { loaded, firstDirtyAt, dirtyFiles, liveMembers, locked, unsyncedUpdates, unsyncedBytes,
 *     expiredMembers (how many expired members this call pruned) }
 */
export const INSPECT = `
${NOW_MS}
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local dirty = redis.call('ZRANGE', KEYS[2], 0, -1)
local updates, bytes = 0, 0
for _, f in ipairs(dirty) do
  -- The first entry of a list is the stored (or last synced) state; the rest are unsynced.
  updates = updates + math.max(0, redis.call('LLEN', ARGV[1] .. f) - 1)
  bytes = bytes + tonumber(redis.call('HGET', KEYS[5], f) or '0')
end
return {
  redis.call('HGET', KEYS[1], 'loaded') or '0',
  redis.call('HGET', KEYS[1], 'firstDirtyAt') or '0',
  #dirty,
  redis.call('ZCARD', KEYS[3]),
  redis.call('EXISTS', KEYS[4]),
  updates,
  bytes,
  expired
}
`;

/**
 * One atomic read for the file sync handshake. KEYS: meta, tree, doc, seq. ARGV: fileId.
 * → { loaded, inTree ('1' or '0'), version (the shard clock), update1, update2, ... }
 * The clock read in the same step covers every update returned.
 */
export const FILE_SYNC_READ = `
local loaded = redis.call('HGET', KEYS[1], 'loaded') or '0'
local out = { loaded, '0', redis.call('GET', KEYS[4]) or '0' }
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return out end
out[2] = '1'
for _, u in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do table.insert(out, u) end
return out
`;
