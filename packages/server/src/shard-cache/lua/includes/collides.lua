--[[
  collides(existing, target) -> true when a file at path `target` cannot exist next to one at
  `existing`: the same path, the same path in another ASCII case, a file where a folder is, or a
  folder where a file is.
]]
local function collides(existing, target)
  local le, lt = string.lower(existing), string.lower(target)
  if le == lt then return true end
  if string.sub(le, 1, #lt + 1) == lt .. '/' then return true end
  if string.sub(lt, 1, #le + 1) == le .. '/' then return true end
  return false
end
