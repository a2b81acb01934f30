--[[
  Marks shards as possibly holding unsynced changes, for the scheduler (see dirty-unmark.lua).
  The counter of each moves on every mark, so an unmark that raced a new change fails.
  KEYS[1] dirty-shards
  ARGV[1..] shard ids
  Reply: how many shards were marked.
]]
for i = 1, #ARGV do redis.call('ZINCRBY', KEYS[1], 1, ARGV[i]) end
return #ARGV
