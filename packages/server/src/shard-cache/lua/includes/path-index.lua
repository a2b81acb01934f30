--[[
  The per-shard index of folded paths: a sorted set, every score 0, members
  `<folded path>\0<fileId>`, so ZRANGEBYLEX finds a path, or everything under a folder, in
  O(log n + found). The caller folds paths (NFC, Unicode lower case: src/shard-cache/fold-path.ts)
  and passes them in ARGV; Lua only compares bytes. A folded path is the folded parent, '/', and
  the folded name, so byte prefixes of a folded path are the folded ancestors.

  indexEntry(folded, fileId) -> the member
  parseEntry(member) -> folded, fileId
  isIndexed(indexKey, treeKey) -> false when the tree has files but there is no index (a shard
    loaded by a version without it: the caller rebuilds the index and retries)
  filesAt(indexKey, treeKey, path, folded) -> { { id, path, folded }, ... }: the files at `path`
    or below the folder `path` (exact case)
  othersAt(indexKey, folded, except) -> true when a file whose id is not a key of `except` sits at
    `folded` (a case twin) or below it (a folder where a file would be)
  othersAbove(indexKey, folded, except, checked) -> true when such a file sits at an ancestor of
    `folded` (a file where a folder would be); `checked` remembers ancestors already looked at
  inChunks(ids, size, fn) -> calls fn(first, last) over 1..#ids in slices of `size` (Lua's unpack
    takes a bounded number of values)
  anyFolderAbove(path, folded, fn) -> true when fn(folder, foldedFolder) is true for one of the
    folders above `path` (exact and folded), outermost first
  spelledOtherwise(indexKey, treeKey, folder, folded, move) -> true when the folder `folded` holds
    files that spell it other than `folder` (exact case) and that stay there: `move` is nil for a
    create, else { path, folded, count, isFolder } of what a rename moves
  Every folder has one spelling per shard (`Src/a.js` next to `src/b.js` would be two folders on
  Linux and one on Windows and macOS), so one file below a folder tells its spelling.
]]
local function indexEntry(folded, fileId)
  return folded .. '\0' .. fileId
end

local function parseEntry(member)
  local at = string.find(member, '\0', 1, true)
  return string.sub(member, 1, at - 1), string.sub(member, at + 1)
end

local function isIndexed(indexKey, treeKey)
  return redis.call('EXISTS', indexKey) == 1 or redis.call('HLEN', treeKey) == 0
end

local function isAtOrUnder(folded, target)
  return folded == target or string.sub(folded, 1, #target + 1) == target .. '/'
end

-- Members at `folded` or below it, and possibly siblings that sort between (`a.js` for `a`):
-- callers filter with isAtOrUnder. '\0' sorts before every path byte, '0' is the byte after '/'.
local function rangeAt(indexKey, folded)
  return redis.call('ZRANGEBYLEX', indexKey, '[' .. folded .. '\0', '(' .. folded .. '0')
end

local function inChunks(ids, size, fn)
  for first = 1, #ids, size do fn(first, math.min(first + size - 1, #ids)) end
end

local function filesAt(indexKey, treeKey, path, folded)
  local entries = {}
  for _, member in ipairs(rangeAt(indexKey, folded)) do
    local f, id = parseEntry(member)
    if isAtOrUnder(f, folded) then table.insert(entries, { id, f }) end
  end
  local found = {}
  inChunks(entries, 200, function(first, last)
    local ids = {}
    for i = first, last do table.insert(ids, entries[i][1]) end
    local paths = redis.call('HMGET', treeKey, unpack(ids))
    for i = first, last do
      local p = paths[i - first + 1]
      if p and isAtOrUnder(p, path) then table.insert(found, { entries[i][1], p, entries[i][2] }) end
    end
  end)
  return found
end

local function othersAt(indexKey, folded, except)
  if next(except) == nil then
    local at = redis.call('ZRANGEBYLEX', indexKey, '[' .. folded .. '\0', '(' .. folded .. '\1', 'LIMIT', 0, 1)
    if #at > 0 then return true end
    return #redis.call('ZRANGEBYLEX', indexKey, '[' .. folded .. '/', '(' .. folded .. '0', 'LIMIT', 0, 1) > 0
  end
  for _, member in ipairs(rangeAt(indexKey, folded)) do
    local f, id = parseEntry(member)
    if not except[id] and isAtOrUnder(f, folded) then return true end
  end
  return false
end

local function othersAbove(indexKey, folded, except, checked)
  local from = 1
  while true do
    local slash = string.find(folded, '/', from, true)
    if not slash then return false end
    local ancestor = string.sub(folded, 1, slash - 1)
    if not checked[ancestor] then
      checked[ancestor] = true
      local at = redis.call('ZRANGEBYLEX', indexKey, '[' .. ancestor .. '\0', '(' .. ancestor .. '\1')
      for _, member in ipairs(at) do
        local _, id = parseEntry(member)
        if not except[id] then return true end
      end
    end
    from = slash + 1
  end
end

local function anyFolderAbove(path, folded, fn)
  local at, foldedAt = 0, 0
  while true do
    at = string.find(path, '/', at + 1, true)
    foldedAt = string.find(folded, '/', foldedAt + 1, true)
    if not at or not foldedAt then return false end
    if fn(string.sub(path, 1, at - 1), string.sub(folded, 1, foldedAt - 1)) then return true end
  end
end

-- The first segments of `path`, as many as `folder` has.
local function leadingSegments(path, folder)
  local at = 0
  for _ = 1, select(2, string.gsub(folder, '/', '')) + 1 do
    at = string.find(path, '/', at + 1, true)
    if not at then return path end
  end
  return string.sub(path, 1, at - 1)
end

local function spelledOtherwise(indexKey, treeKey, folder, folded, move)
  local below = '[' .. folded .. '/'
  if move then
    -- Inside the moved folder every file moves (they all spell it alike).
    if string.sub(folded, 1, #move.folded + 1) == move.folded .. '/' then return false end
    -- The moved files are below this folder: they tell its spelling, and every file there moves
    -- unless the folder holds more.
    local spelled
    if folded == move.folded then
      if move.isFolder then spelled = move.path end
    elseif string.sub(move.folded, 1, #folded + 1) == folded .. '/' then
      spelled = leadingSegments(move.path, folder)
    end
    if spelled then
      return spelled ~= folder and redis.call('ZLEXCOUNT', indexKey, below, '(' .. folded .. '0') > move.count
    end
  end
  local first = redis.call('ZRANGEBYLEX', indexKey, below, '(' .. folded .. '0', 'LIMIT', 0, 1)
  if #first == 0 then return false end
  local _, id = parseEntry(first[1])
  local path = redis.call('HGET', treeKey, id)
  return path ~= false and string.sub(path, 1, #folder + 1) ~= folder .. '/'
end
