--- What the engine knows about a trigger function (internal).
--
-- Triggers are plain functions `function(card, ctx) -> bool, value`; the
-- ones made by `simkit.rules` are registered here (weak keys) with their
-- name, threshold and needs, so that a rule can be checked when it is added
-- and explained later. A user's own function has no entry and is taken as is.
-- @module simkit.rules.meta
local M = {}

local registry = setmetatable({}, { __mode = "k" })

--- Register `fn` with its description; returns `fn`.
function M.set(fn, info)
  registry[fn] = info
  return fn
end

--- The description of `fn`, or nil for a user's own function.
function M.get(fn)
  return registry[fn]
end

--- Remember `fn` as the constructor `name` (so that a rule using `R.expired`
-- instead of `R.expired{}` is refused); `unknown` for names R does not have.
function M.constructor(fn, name, unknown)
  registry[fn] = { constructor = name, unknown = unknown }
  return fn
end

--- Marker for a name `simkit.rules` does not know (`R.no_such{}`): refused
-- when a rule uses it, with the rule's name.
function M.unknown(name)
  return setmetatable({ unknown = name }, { __tostring = function() return "unknown '" .. name .. "'" end })
end

return M
