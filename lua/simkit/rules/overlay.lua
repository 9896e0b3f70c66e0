--- A read-through, write-nowhere view of a store (internal): what
-- `plan()` and `dry_run` use so that a cycle can run unchanged while the
-- real store is never written. Writes land in a private table that is
-- dropped with the view.
-- @module simkit.rules.overlay
local M = {}

local GONE = {}

local View = {}
View.__index = View

function View:get(k)
  local v = self.w[k]
  if v == GONE then return nil end
  if v ~= nil then return v end
  return self.base:get(k)
end

function View:set(k, v)
  self.w[k] = v
  return true
end

function View:add(k, v)
  local cur, err = self:get(k)
  if err then return nil, err end
  if cur ~= nil then return false end
  self.w[k] = v
  return true
end

function View:incr(k, n)
  local cur, err = self:get(k)
  if err then return nil, err end
  local v = (tonumber(cur) or 0) + n
  self.w[k] = v
  return v
end

function View:delete(k)
  self.w[k] = GONE
  return true
end

--- A view of `base` that never writes to it.
function M.new(base)
  return setmetatable({ base = base, w = {} }, View)
end

return M
