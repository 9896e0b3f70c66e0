--- What the commands of `simkit` share: the profile, the vendor clients
-- wired to the CLI's output (verbose log, progress while waiting, the last
-- answer for --raw), exit codes, printing records.
-- @module simkit.cli.common
local json = require "simkit.json"
local errors = require "simkit.errors"
local config = require "simkit.cli.config"
local output = require "simkit.cli.output"
local sim = require "simkit.cli.sim"

local M = {}

--- Is `v` a JSON array / Lua sequence?
-- @param v any value
-- @treturn boolean
function M.is_list(v)
  if type(v) ~= "table" then return false end
  if getmetatable(v) == json.array_mt then return true end
  return #v > 0 and next(v, #v) == nil
end

--- The exit status for an error: 2 for input (usage) errors, else 1.
-- @param err a simkit error
-- @treturn integer
function M.exit_for(err)
  return type(err) == "table" and err.kind == "input" and 2 or 1
end

--- The client of a vendor from the profile, with the CLI's logger (verbose
-- lines, the reason of the next wait), sleep (progress while waiting) and a
-- transport that keeps the last answer (--raw).
-- @tparam table ctx the CLI context (`out`, `verbose`; `last_answer` is set)
-- @tparam table prof the profile (`simkit.cli.config.load`)
-- @tparam string vendor
-- @return the client, or nil and an input error
function M.make_client(ctx, prof, vendor)
  local opts = prof.vendors[vendor]
  if not opts then
    return nil, errors.input("profile '" .. prof.name .. "' (" .. prof.path .. ") has no " ..
      vendor .. " settings")
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  local out, last = ctx.out, {}
  local user_logger = o.logger
  o.logger = function(level, msg, fields)
    -- the reason of the next wait, without the "simkit VENDOR OP attempt N:" head and the duration
    if level == "warn" then
      last.reason = tostring(msg):gsub("^simkit %S+ %S+ attempt %d+: ", ""):gsub(" in [%d%.]+s$", "")
    end
    if ctx.verbose then out:log(level .. " " .. tostring(msg)) end
    if user_logger then user_logger(level, msg, fields) end
  end
  local user_sleep = o.sleep or require("simkit.util").sleep
  o.sleep = function(s)
    if s >= 0.05 then
      out:progress(("waiting %.1f s: %s"):format(s, last.reason or "vendor rate limit (client-side pacing)"))
    end
    last.reason = nil
    user_sleep(s)
  end
  local inner = o.transport or require("simkit.transport.auto").new(o)
  o.transport = function(req)
    local res, e, category = inner(req)
    ctx.last_answer = res
    return res, e, category
  end
  local simkit = require "simkit"
  local ok, client = pcall(simkit.client, vendor, o)
  if not ok then
    return nil, errors.input("profile '" .. prof.name .. "', " .. vendor .. ": " ..
      tostring(client):gsub("^[^:]*:%d+: ", ""))
  end
  return client
end

--- The profile of `--profile` (or $SIMKIT_PROFILE, else "default").
-- @tparam table ctx the CLI context
-- @return the profile, or nil and an input error
function M.load_profile(ctx)
  return config.load(ctx.a.profile, { sandbox_url = sim.url })
end

--- The keys of a table, sorted.
-- @tparam table t
-- @treturn table list
function M.sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

--- End a command on an error: stop the progress line, print the one-line
-- error, and return its exit status.
-- @tparam table ctx the CLI context
-- @tparam table err a simkit error
-- @treturn integer the exit status
function M.fail(ctx, err)
  ctx.out:done_progress()
  ctx.out:err(err)
  return M.exit_for(err)
end

--- Print records in a format; returns the exit status.
-- @tparam table ctx the CLI context
-- @tparam table rows the records
-- @tparam string format
-- @tparam[opt] table columns
-- @treturn integer 0, or 1 when a value cannot be encoded
function M.print_rows(ctx, rows, format, columns)
  local text, err = output.render(rows, format, columns)
  if not text then
    ctx.out:err("cannot encode the answer: " .. tostring(err))
    return 1
  end
  ctx.out:out(text)
  return 0
end

return M
