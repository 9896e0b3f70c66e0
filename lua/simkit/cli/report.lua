--- `simkit report`: fill the report's data model and write the HTML page.
-- @module simkit.cli.report
local json = require "simkit.json"
local errors = require "simkit.errors"
local report = require "simkit.report"

local M = {}

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, errors.input("cannot read " .. tostring(path) .. ": " .. tostring(err)) end
  local text = f:read("*a")
  f:close()
  return text
end

--- The data model from a JSON file (`--data`).
-- @tparam string path
-- @treturn table|nil the model, or nil and an input error
function M.load_model(path)
  local text, err = read_file(path)
  if not text then return nil, err end
  local model, jerr = json.decode(text)
  if type(model) ~= "table" or getmetatable(model) == json.array_mt then
    return nil, errors.input("--data " .. path .. " must hold a JSON object (the report model)" ..
      (jerr and (": " .. tostring(jerr)) or ""))
  end
  return model
end

--- The store key of a card's usage snapshots: the rules engine's (its
-- default prefix), read here and nowhere else.
M.SNAPSHOT_KEY = "simkit:rules:snap:"

--- A card's usage history from the store (the rules engine's snapshots:
-- `{ hist = { { t, used_mb } ... } }`), as the report's `{ time, used_mb }` points.
-- @tparam table store a simkit.store
-- @tparam string iccid
-- @treturn table|nil the points (nil when there is no usable snapshot)
function M.history(store, iccid)
  local snap = store:get(M.SNAPSHOT_KEY .. tostring(iccid))
  if type(snap) ~= "table" or type(snap.hist) ~= "table" then return nil end
  local pts = {}
  for _, p in ipairs(snap.hist) do
    if type(p) == "table" and type(p[1]) == "number" and type(p[2]) == "number" then
      pts[#pts + 1] = { time = p[1], used_mb = p[2] }
    end
  end
  return pts
end

--- The model from the fleet of the profile: cards, pools and their history.
-- @tparam table ctx the CLI context
-- @treturn table|nil the model, or nil and an error
function M.fleet_model(ctx)
  local clifleet = require "simkit.cli.fleet"
  local fleet, prof, store = clifleet.fleet(ctx)
  if not fleet then return nil, prof end
  local model = { cards = {}, pools = {}, history = {}, audit_path = prof.audit, audit_default = prof.audit_default }
  for card, err in fleet:cards({ on_progress = function(done, total)
    ctx.out:progress(("cards fetched %d/%s"):format(done, total and tostring(total) or "?"))
  end }) do
    if not card then return nil, err end
    card.raw = nil
    model.cards[#model.cards + 1] = card
    model.history[card.iccid] = M.history(store, card.iccid)
  end
  ctx.out:done_progress()
  for pool, err in fleet:pools() do
    if not pool then return nil, err end
    pool.raw = nil
    model.pools[#model.pools + 1] = pool
  end
  return model
end

--- Run the command.
-- @tparam table ctx the CLI context (`a` = parsed arguments, `out` = writer)
-- @treturn integer the exit status
function M.run(ctx)
  local a, out = ctx.a, ctx.out
  local model, err, audit_path, audit_default
  if a.data then
    model, err = M.load_model(a.data)
    if not model then out:err(err); return 2 end
    if not a.audit and not model.audit then
      local prof = require("simkit.cli.common").load_profile(ctx)
      audit_path = prof and prof.audit or nil
      audit_default = prof and prof.audit_default
    end
  else
    model, err = M.fleet_model(ctx)
    if not model then
      out:done_progress()
      out:err(err)
      return require("simkit.cli.common").exit_for(err)
    end
    audit_path, model.audit_path = model.audit_path, nil
    audit_default, model.audit_default = model.audit_default, nil
  end
  -- the default audit log (the profile names none) does not exist until a
  -- first `simkit rules run`: no rule activity yet, not an error
  local probe = not a.audit and audit_path and audit_default and io.open(audit_path, "r")
  if probe then probe:close() end
  if not a.audit and audit_path and audit_default and not probe then
    audit_path = nil
  end
  audit_path = a.audit or audit_path
  if audit_path then
    local entries, aerr = report.read_audit(audit_path)
    if not entries then out:err(aerr); return 2 end
    model.audit = entries
  end
  if a.title and a.title ~= "simkit fleet report" or not model.title then model.title = a.title end
  local html, rerr = report.render(model)
  if not html then out:err(rerr); return 2 end
  local f, ferr = io.open(a.out, "wb")
  if not f then out:err(errors.input("cannot write " .. a.out .. ": " .. tostring(ferr))); return 2 end
  f:write(html)
  f:close()
  out:out(a.out .. "\n")
  return 0
end

return M
