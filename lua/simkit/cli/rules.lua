--- `simkit rules run|plan FILE` and `simkit rules explain FILE ICCID`: a
-- rules file (docs/rules.md) run by `simkit.rules` over the profile's fleet,
-- with the profile's store and audit log.
-- @module simkit.cli.rules
local json = require "simkit.json"
local errors = require "simkit.errors"
local common = require "simkit.cli.common"

local M = {}

--- The columns of `rules plan` (table and CSV).
M.PLAN_COLUMNS = { "rule", "iccid", "vendor", "action", "value", "threshold", "at", "key" }
--- The columns of `rules run` (table and CSV): one row per action fired.
M.RUN_COLUMNS = { "rule", "iccid", "vendor", "action", "ok", "error", "key" }

--- Add the commands to the parser.
-- @tparam table p the argparse parser of `simkit`
function M.add_commands(p)
  local rules = p:command("rules", "Rules files (docs/rules.md) over the profile's fleet, store and audit log.")
  rules:command_target("rules_command")
  local run = rules:command("run", "One cycle: reconcile orders in doubt, due schedules, evaluate every rule, act.")
  run:argument("file", "The rules file.")
  run:flag("--dry-run", "Evaluate only: no vendor write, no state change, no audit line.")
  local plan = rules:command("plan", "What `run` would do (reads only).")
  plan:argument("file", "The rules file.")
  local explain = rules:command("explain", "Why each rule fires, or not, for one card (reads only).")
  explain:argument("file", "The rules file.")
  explain:argument("iccid", "The ICCID.")
end

local fail = common.fail

--- The engine of the profile with the rules of `file` loaded.
-- @tparam table ctx the CLI context
-- @tparam string file the rules file
-- @tparam boolean dry_run
-- @return the engine, or nil and an error
function M.engine(ctx, file, dry_run)
  local R = require "simkit.rules"
  local fleet, prof, store = require("simkit.cli.fleet").fleet(ctx)
  if not fleet then return nil, prof end
  if not ctx.durable_store and not dry_run then
    ctx.out:log("warning: no durable store in this simkit (simkit.store.sqlite): rule state lasts for this run only; " ..
      "top-ups stay once per intent through the vendor's order key")
  end
  local opts = {}
  for k, v in pairs(prof.rules or {}) do opts[k] = v end
  -- the engine takes the vendor clients (package lists, order lookups) from the fleet
  opts.fleet, opts.store, opts.dry_run = fleet, store, dry_run == true
  if prof.audit and opts.audit == nil then opts.audit = prof.audit end
  if opts.logger == nil then
    opts.logger = function(level, msg)
      if ctx.verbose or level == "error" then ctx.out:log(level .. " " .. tostring(msg)) end
    end
  end
  local ok, engine = pcall(R.engine, opts)
  if not ok then
    return nil, errors.input("profile '" .. prof.name .. "', rules: " .. tostring(engine):gsub("^[^:]*:%d+: ", ""))
  end
  local lok, loaded, lerr = pcall(R.load, engine, file)
  if not lok then return nil, errors.input("rules file " .. file .. ": " .. tostring(loaded):gsub("^[^:]*:%d+: ", "")) end
  if not loaded then return nil, lerr end
  return engine
end

local function print_json(ctx, v)
  local text, err = json.encode(v)
  if not text then return fail(ctx, errors.new { kind = "decode", message = "cannot encode: " .. tostring(err) }) end
  ctx.out:out(text .. "\n")
  return 0
end

local function errtext(e)
  if e == nil then return nil end
  return (tostring(e):gsub("[\r\n]+", " "))
end

M.commands = {}

--- `simkit rules ...`
-- @tparam table ctx the CLI context
-- @treturn integer the exit status
function M.commands.rules(ctx)
  local a = ctx.a
  local sub = a.rules_command
  local engine, err = M.engine(ctx, a.file, sub ~= "run" or a.dry_run)
  if not engine then return fail(ctx, err) end
  if sub == "explain" then
    local why, eerr = engine:explain(a.iccid)
    if not why then return fail(ctx, eerr) end
    return print_json(ctx, why)
  elseif sub == "plan" then
    local plan = engine:plan()
    local format = a.format or "table"
    if format == "json" or format == "jsonl" then return common.print_rows(ctx, plan, format) end
    return common.print_rows(ctx, plan, format, M.PLAN_COLUMNS)
  end
  -- a run may place orders: an interrupted one leaves them in the ledger, reconciled by the next run
  ctx.writing = "a rules run (orders under way stay in the ledger and the next `simkit rules run` reconciles them)"
  local report = engine:run()
  ctx.writing = nil
  local failed = #(report.errors or {}) > 0
  local rows = {}
  for _, f in ipairs(report.fired or {}) do
    if f.ok == false then failed = true end
    rows[#rows + 1] = { rule = f.rule, iccid = f.iccid, vendor = f.vendor, action = f.action, ok = f.ok,
      error = errtext(f.err), key = f.key }
  end
  for _, e in ipairs(report.errors or {}) do ctx.out:err(e.err or e) end
  local format = a.format or "json"
  local code
  if format == "json" then
    local copy = {}
    for k, v in pairs(report) do copy[k] = v end
    code = print_json(ctx, copy)
  elseif format == "jsonl" then
    code = common.print_rows(ctx, rows, format)
  else
    code = common.print_rows(ctx, rows, format, M.RUN_COLUMNS)
  end
  if code ~= 0 then return code end
  return failed and 1 or 0
end

return M
