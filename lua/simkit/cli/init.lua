--- The `simkit` command (bin/simkit): argument parsing (lua-argparse),
-- profiles, and the commands. `main` returns the exit status: 0 ok, 1 an
-- operation failed, 2 a usage error (bad arguments, unknown vendor/op/param,
-- a missing profile, an unsafe or broken config file).
-- @module simkit.cli
local argparse = require "argparse"
local json = require "simkit.json"
local config = require "simkit.cli.config"
local output = require "simkit.cli.output"
local cliargs = require "simkit.cli.args"
local sim = require "simkit.cli.sim"
local common = require "simkit.cli.common"

local M = {}

M.EXIT_OK, M.EXIT_FAILED, M.EXIT_USAGE, M.EXIT_INTERRUPTED = 0, 1, 2, 130
local is_list, exit_for, make_client, load_profile, print_rows = common.is_list, common.exit_for, common.make_client,
  common.load_profile, common.print_rows

local VENDORS = { "eiotclub", "huawei", "tibiot" }

--- The argument parser (every command has `--help`).
-- @treturn table an argparse parser
function M.parser()
  local p = argparse("simkit", "Manage IoT SIM cards of EIOTCLUB, Huawei Cloud GSL and TIBIOT.")
    :epilog("Profiles: ~/.config/simkit/config.lua (or $SIMKIT_CONFIG), chosen by --profile, " ..
      "$SIMKIT_PROFILE, else 'default'. Exit status: 0 ok, 1 an operation failed, 2 usage error.")
  p:command_target("command")
  p:option("--profile", "Profile of the config file to use.")
  p:option("--format", "Output format of lists: table, json, jsonl or csv."):choices(output.FORMATS)
  p:flag("-q --quiet", "No progress on stderr.")
  p:flag("-v --verbose", "Log every request on stderr (secrets are never logged).")

  local call = p:command("call", "Call any operation of a vendor; prints its JSON answer (integers exact).")
  call:add_help(false)
  call:flag("-h --help", "Show the vendor's operations, or the operation's parameters, and exit.")
  call:argument("vendor", "eiotclub, huawei or tibiot."):args("?")
  call:argument("op", "The operation (see simkit call VENDOR --help)."):args("?")
  call:argument("params", "name=value arguments, typed by the operation's parameters; lists as a,b or repeated.")
    :args("*")
  call:option("--args", "More arguments as a JSON object.")
  call:flag("--raw", "Print the vendor's whole answer instead of its data part.")
  call:flag("--all", "For a paged operation: every item over every page, as a list (see --format).")

  local simc = p:command("sim", "The local vendor sandbox: try everything without real SIMs.")
  simc:command_target("sim_command")
  local start = simc:command("start", "Start the sandbox (prints URL and directory).")
  start:option("--port", "Port (default: a free one)."):convert(tonumber)
  simc:command("stop", "Stop the sandbox started by `simkit sim start`.")
  simc:command("status", "Say whether the sandbox runs (exit 0) or not (exit 1).")

  local rep = p:command("report", "Write a self-contained HTML report of the fleet (usage, running dry, rules, orders).")
  rep:option("--out", "Output file.", "report.html")
  rep:option("--data", "Render this JSON data model instead of reading the fleet (see docs/cli.md).")
  rep:option("--audit", "Audit log (JSON lines) of the rules engine; default: the profile's 'audit'.")
  rep:option("--title", "Title of the report.", "simkit fleet report")
  require("simkit.cli.fleet").add_commands(p)
  require("simkit.cli.rules").add_commands(p)
  return p, { call = call }
end

local function near_ops(ops, name)
  local hits = {}
  for n in pairs(ops) do
    if n:find(name, 1, true) or name:find(n, 1, true) then hits[#hits + 1] = n end
  end
  table.sort(hits)
  return hits
end

local commands = {}

function commands.call(ctx)
  local a, out = ctx.a, ctx.out
  if a.vendor and not config.is_vendor(a.vendor) then
    out:err("unknown vendor '" .. a.vendor .. "' (eiotclub, huawei, tibiot)")
    return M.EXIT_USAGE
  end
  if a.help then
    if not a.vendor then
      out:out(ctx.parser_call:get_help() .. "\n")
      return M.EXIT_OK
    end
    local ops = cliargs.ops(a.vendor)
    if not a.op then out:out(cliargs.vendor_help(a.vendor, ops)); return M.EXIT_OK end
    if not ops[a.op] then
      out:err("unknown operation '" .. a.op .. "' of " .. a.vendor .. " (simkit call " .. a.vendor .. " --help lists them)")
      return M.EXIT_USAGE
    end
    out:out(cliargs.op_help(a.vendor, a.op, ops[a.op]))
    return M.EXIT_OK
  end
  if not a.vendor or not a.op then
    out:err("usage: simkit call VENDOR OP [name=value ...] (simkit call --help)")
    return M.EXIT_USAGE
  end
  local ops = cliargs.ops(a.vendor)
  local op = ops[a.op]
  if not op then
    local near = near_ops(ops, a.op)
    out:err("unknown operation '" .. a.op .. "' of " .. a.vendor ..
      (#near > 0 and (" (did you mean " .. table.concat(near, ", ") .. "?)") or "") ..
      "; simkit call " .. a.vendor .. " --help lists them")
    return M.EXIT_USAGE
  end
  local args, aerr = cliargs.parse(op, a.params, a.args)
  if not args then out:err(aerr); return M.EXIT_USAGE end
  local prof, perr = load_profile(ctx)
  if not prof then out:err(perr); return M.EXIT_USAGE end
  for _, s in ipairs(prof.secrets) do out:add_secret(s) end
  local client, cerr = make_client(ctx, prof, a.vendor)
  if not client then out:err(cerr); return exit_for(cerr) end
  if a.all then
    local vendor_mod = require("simkit.vendor." .. a.vendor)
    if not (vendor_mod.pagination and vendor_mod.pagination(a.op, op)) then
      out:err("'" .. a.op .. "' is not a paged operation of " .. a.vendor .. "; --all needs one")
      return M.EXIT_USAGE
    end
    local items, page_no = {}, 0
    for item, page in client:pages(a.op, args) do
      if not item then
        out:done_progress()
        out:err(page)
        return exit_for(page)
      end
      items[#items + 1] = item
      if page ~= page_no then page_no = page end
      out:progress(("fetched %d items (page %d)"):format(#items, page_no))
    end
    out:done_progress()
    return print_rows(ctx, items, a.format or "json")
  end
  -- a write interrupted now may have reached the vendor: main() says so
  ctx.writing = not op.read and a.op or nil
  local data, err = client:call(a.op, args)
  ctx.writing = nil
  if data == nil then
    out:err(err)
    return exit_for(err)
  end
  if a.raw then
    local body = ctx.last_answer and ctx.last_answer.body or ""
    out:out(body .. (body:sub(-1) == "\n" and "" or "\n"))
    return M.EXIT_OK
  end
  local format = a.format or "json"
  if format == "json" then
    local text, eerr = json.encode(data)
    if not text then out:err("cannot encode the answer: " .. tostring(eerr)); return M.EXIT_FAILED end
    out:out(text .. "\n")
    return M.EXIT_OK
  end
  return print_rows(ctx, is_list(data) and data or { data }, format)
end

function commands.sim(ctx)
  local a, out = ctx.a, ctx.out
  if a.sim_command == "start" then
    local res, err = sim.start(ctx.root, a.port)
    if not res then out:err(err); return exit_for(err) end
    out:out(res .. "\n")
    return M.EXIT_OK
  elseif a.sim_command == "stop" then
    local res, err = sim.stop(ctx.root)
    if not res then out:err(err); return exit_for(err) end
    out:out(res .. "\n")
    return M.EXIT_OK
  end
  local running, text = sim.status(ctx.root)
  out:out(text .. "\n")
  return running and M.EXIT_OK or M.EXIT_FAILED
end

function commands.report(ctx)
  return require("simkit.cli.report").run(ctx)
end

--- Run the command line.
-- @tparam {string,...} argv the arguments (without the program name)
-- @tparam[opt] table env `root` (the source tree, for `sim`), `stdout`, `stderr`
-- @treturn integer the exit status
function M.main(argv, env)
  env = env or {}
  local stderr = env.stderr or io.stderr
  local parser, sub = M.parser()
  local ok, a = parser:pparse(argv)
  if not ok then
    -- one line (DESIGN.md, docs/cli.md): the usage text is on --help
    stderr:write("simkit: usage error: ", (tostring(a):gsub("[\r\n]+", " ")), " (simkit --help)\n")
    return M.EXIT_USAGE
  end
  local out = output.new { stdout = env.stdout, stderr = stderr, quiet = a.quiet,
    tty = env.tty == nil and output.isatty(stderr) or env.tty }
  local ctx = { a = a, out = out, root = env.root, verbose = a.verbose, parser_call = sub.call }
  local fn = commands[a.command] or require("simkit.cli.fleet").commands[a.command] or
    require("simkit.cli.rules").commands[a.command]
  if not fn then
    stderr:write(parser:get_help(), "\n")
    return M.EXIT_USAGE
  end
  local okr, res = xpcall(fn, debug.traceback, ctx)
  if okr then return res end
  out:done_progress()
  if tostring(res):find("interrupted!", 1, true) then
    if ctx.writing then
      out:err("interrupted during " .. ctx.writing .. ", a write: its outcome is unknown (in doubt); " ..
        "check it at the vendor before repeating it")
    else
      out:err("interrupted (no write was under way)")
    end
    return M.EXIT_INTERRUPTED
  end
  out:err("internal error: " .. tostring(res))
  return M.EXIT_FAILED
end

M.VENDORS = VENDORS
return M
