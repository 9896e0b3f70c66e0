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

--- Run the command.
-- @tparam table ctx the CLI context (`a` = parsed arguments, `out` = writer)
-- @treturn integer the exit status
function M.run(ctx)
  local a, out = ctx.a, ctx.out
  if not a.data then
    out:err(errors.input("simkit report reads its data from --data FILE.json (the model in docs/cli.md)"))
    return 2
  end
  local model, err = M.load_model(a.data)
  if not model then out:err(err); return 2 end
  local audit_path = a.audit
  if not audit_path and not model.audit then
    local prof = require("simkit.cli.config").load(a.profile, { sandbox_url = require("simkit.cli.sim").url })
    audit_path = prof and prof.audit or nil
  end
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
