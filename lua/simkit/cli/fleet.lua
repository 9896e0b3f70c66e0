--- The fleet commands of `simkit`: `cards`, `card ICCID`, `pools` and
-- `act ICCID ACTION [name=value ...] [--dry-run]`, over `simkit.fleet` built
-- from the profile's clients.
-- @module simkit.cli.fleet
local json = require "simkit.json"
local errors = require "simkit.errors"
local config = require "simkit.cli.config"
local common = require "simkit.cli.common"

local M = {}

M.STATUSES = { "active", "inactive", "suspended", "deactivated", "testing", "unknown" }

--- The columns of `simkit cards` in CSV and table output (stable; documented in docs/cli.md).
M.CARD_COLUMNS = { "vendor", "iccid", "status", "vendor_status", "used_mb", "limit_mb", "left_mb", "pool", "plan",
  "expires", "imsi", "msisdn", "imei", "tags" }
--- The columns of `simkit pools`.
M.POOL_COLUMNS = { "vendor", "id", "name", "used_mb", "limit_mb", "left_mb", "cards", "expires" }

-- The arguments of each normalised action and their types.
M.ACTIONS = {
  suspend = {}, resume = {},
  network = { on = "boolean" },
  speed = { kbps = "kbps" },
  topup = { package = "string", key = "string" },
  sms = { text = "string" },
  tag = { tags = "list" },
  imei_lock = { imei = "string" },
  usage_cap = { mb = "number" },
}

local sorted_keys = require("simkit.cli.common").sorted_keys

--- Add the commands to the parser.
-- @tparam table p the argparse parser of `simkit`
function M.add_commands(p)
  local cards = p:command("cards", "List the cards of every vendor of the profile (one model; see docs/cli.md).")
  cards:option("--vendor", "Only this vendor."):choices(config.VENDORS)
  cards:option("--status", "Only this status."):choices(M.STATUSES)
  cards:option("--tag", "Only cards with this tag.")
  cards:option("--pool", "Only cards of this pool (its id).")
  cards:option("--left-below", "Only cards with less than this many MB left.")
  local card = p:command("card", "One card by ICCID, from any vendor (JSON).")
  card:argument("iccid", "The ICCID.")
  p:command("pools", "List the pools of every vendor of the profile.")
  local act = p:command("act", "Do a normalised action on one card: " .. table.concat(sorted_keys(M.ACTIONS), ", ") .. ".")
  act:argument("iccid", "The ICCID.")
  act:argument("action", "The action."):choices(sorted_keys(M.ACTIONS))
  act:argument("params", "name=value arguments (network on=true, speed kbps=128|default, topup package=CODE [key=K], " ..
    "sms text=..., tag tags=a,b, imei_lock imei=..., usage_cap mb=N)."):args("*")
  act:flag("--dry-run", "Look the card up and check the action; send no write.")
end

local function finite(n) return type(n) == "number" and n == n and n ~= math.huge and n ~= -math.huge end

--- Type the `name=value` words of an action.
-- @tparam string action
-- @tparam {string,...} words
-- @treturn table|nil the arguments, or nil and an input error
function M.action_args(action, words)
  local spec = M.ACTIONS[action]
  if not spec then
    return nil, errors.input("unknown action '" .. tostring(action) .. "' (" .. table.concat(sorted_keys(M.ACTIONS), ", ") .. ")")
  end
  local out = {}
  for _, w in ipairs(words or {}) do
    local name, text = tostring(w):match("^([^=]+)=(.*)$")
    if not name then return nil, errors.input("expected name=value, got '" .. tostring(w) .. "'") end
    local t = spec[name]
    if not t then
      local names = sorted_keys(spec)
      return nil, errors.input("unknown argument '" .. name .. "' for " .. action .. " (accepted: " ..
        (#names > 0 and table.concat(names, ", ") or "none") .. ")", { param = name })
    end
    if out[name] ~= nil then return nil, errors.input("'" .. name .. "' is given twice", { param = name }) end
    local v
    if t == "boolean" then
      v = ({ ["true"] = true, ["false"] = false, ["1"] = true, ["0"] = false, on = true, off = false })[text:lower()]
      if v == nil then return nil, errors.input("'" .. name .. "' takes true or false, got '" .. text .. "'") end
    elseif t == "number" or t == "kbps" then
      if t == "kbps" and text == "default" then
        v = "default"
      else
        v = tonumber(text)
        if not finite(v) or v < 0 then
          return nil, errors.input("'" .. name .. "' takes a non-negative number" ..
            (t == "kbps" and " or default" or "") .. ", got '" .. text .. "'")
        end
        if math.tointeger and math.tointeger(v) then v = math.tointeger(v) end
      end
    elseif t == "list" then
      v = {}
      for item in (text .. ","):gmatch("([^,]*),") do
        if item == "" then return nil, errors.input("'" .. name .. "' has an empty item") end
        v[#v + 1] = item
      end
    else
      if text == "" then return nil, errors.input("'" .. name .. "' must not be empty") end
      v = text
    end
    out[name] = v
  end
  return out
end

--- Open the profile's store: SQLite when the backend is there, else memory.
-- @tparam table prof the profile
-- @return the store, or nil and an error
-- @treturn boolean whether the store outlives the process
function M.open_store(prof)
  local store = require "simkit.store"
  if type(store.sqlite) ~= "function" then return store.memory(), false end
  local dir = prof.store:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
  local ok, s, err = pcall(store.sqlite, prof.store)
  if not ok then return nil, errors.new { kind = "store", message = tostring(s) } end
  if not s then return nil, err end
  return s, true
end

--- The fleet over every vendor of the profile.
-- @tparam table ctx the CLI context
-- @return the fleet, the profile and the store, or nil and an error
function M.fleet(ctx)
  local okf, fleet_mod = pcall(require, "simkit.fleet")
  if not okf then
    return nil, errors.new { kind = "unsupported", message = "simkit.fleet is not installed with this simkit" }
  end
  local prof, err = common.load_profile(ctx)
  if not prof then return nil, err end
  for _, s in ipairs(prof.secrets) do ctx.out:add_secret(s) end
  local opts = {}
  for _, v in ipairs(config.VENDORS) do
    if prof.vendors[v] then
      local c, cerr = common.make_client(ctx, prof, v)
      if not c then return nil, cerr end
      opts[#opts + 1] = c
    end
  end
  if #opts == 0 then
    return nil, errors.input("profile '" .. prof.name .. "' (" .. prof.path .. ") configures no vendor")
  end
  for k, v in pairs(prof.fleet or {}) do opts[k] = v end
  local store, durable = M.open_store(prof)
  if not store then return nil, durable end
  ctx.durable_store = durable
  opts.store = store
  local ok, fleet = pcall(fleet_mod.new, opts)
  if not ok then return nil, errors.input("profile '" .. prof.name .. "': " .. tostring(fleet):gsub("^[^:]*:%d+: ", "")) end
  return fleet, prof, store
end

local function iso(t)
  if not finite(t) then return nil end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

--- A card as a flat row (CARD_COLUMNS).
-- @tparam table card a fleet card
-- @treturn table
function M.card_row(card)
  local u = type(card.usage) == "table" and card.usage or {}
  local tags = card.tags
  if type(tags) == "table" then tags = table.concat(tags, ";") end
  return { vendor = card.vendor, iccid = card.iccid, status = card.status, vendor_status = card.vendor_status,
    used_mb = u.used_mb, limit_mb = u.limit_mb, left_mb = u.left_mb, pool = card.pool, plan = card.plan,
    expires = iso(card.expires), imsi = card.imsi, msisdn = card.msisdn, imei = card.imei, tags = tags }
end

-- A card or pool for JSON output: everything but the vendor's raw item.
local function without_raw(t)
  local o = {}
  for k, v in pairs(t) do if k ~= "raw" then o[k] = v end end
  return o
end

local fail = common.fail

M.commands = {}

function M.commands.cards(ctx)
  local a, out = ctx.a, ctx.out
  local left
  if a.left_below ~= nil then
    left = tonumber(a.left_below)
    if not finite(left) then return fail(ctx, errors.input("--left-below takes a number of MB, got '" .. a.left_below .. "'")) end
  end
  local fleet, err = M.fleet(ctx)
  if not fleet then return fail(ctx, err) end
  local rows = {}
  local filters = { vendor = a.vendor, status = a.status, tag = a.tag, pool = a.pool, left_below_mb = left,
    on_progress = function(done, total, info)
      out:progress(("cards fetched %d/%s%s"):format(done, total and tostring(total) or "?",
        type(info) == "table" and info.vendor and (" (" .. tostring(info.vendor) .. ")") or ""))
    end }
  for card, cerr in fleet:cards(filters) do
    if not card then return fail(ctx, cerr) end
    rows[#rows + 1] = card
  end
  out:done_progress()
  local format = a.format or "table"
  if format == "json" or format == "jsonl" then
    for i, c in ipairs(rows) do rows[i] = without_raw(c) end
    return common.print_rows(ctx, rows, format)
  end
  for i, c in ipairs(rows) do rows[i] = M.card_row(c) end
  return common.print_rows(ctx, rows, format, M.CARD_COLUMNS)
end

function M.commands.card(ctx)
  local fleet, err = M.fleet(ctx)
  if not fleet then return fail(ctx, err) end
  local card, cerr = fleet:card(ctx.a.iccid)
  if not card then return fail(ctx, cerr) end
  local format = ctx.a.format or "json"
  if format == "json" then
    local text, jerr = json.encode(without_raw(card))
    if not text then return fail(ctx, errors.new { kind = "decode", message = tostring(jerr) }) end
    ctx.out:out(text .. "\n")
    return 0
  end
  if format == "jsonl" then return common.print_rows(ctx, { without_raw(card) }, format) end
  return common.print_rows(ctx, { M.card_row(card) }, format, M.CARD_COLUMNS)
end

function M.commands.pools(ctx)
  local fleet, err = M.fleet(ctx)
  if not fleet then return fail(ctx, err) end
  local rows = {}
  for pool, perr in fleet:pools() do
    if not pool then return fail(ctx, perr) end
    rows[#rows + 1] = pool
  end
  local format = ctx.a.format or "table"
  if format == "json" or format == "jsonl" then
    for i, p in ipairs(rows) do rows[i] = without_raw(p) end
    return common.print_rows(ctx, rows, format)
  end
  for i, p in ipairs(rows) do
    local r = without_raw(p)
    r.expires = iso(p.expires)
    rows[i] = r
  end
  return common.print_rows(ctx, rows, format, M.POOL_COLUMNS)
end

function M.commands.act(ctx)
  local a = ctx.a
  local args, aerr = M.action_args(a.action, a.params)
  if not args then return fail(ctx, aerr) end
  if a.action == "topup" then
    if not args.package then return fail(ctx, errors.input("topup needs package=CODE")) end
    -- one order per card, package and UTC day unless a key is given: running the same
    -- command twice never buys twice
    args.key = args.key or ("cli:" .. a.iccid .. ":" .. args.package .. ":" .. os.date("!%Y-%m-%d"))
  end
  local fleet, err = M.fleet(ctx)
  if not fleet then return fail(ctx, err) end
  local card, cerr = fleet:card(a.iccid)
  if not card then return fail(ctx, cerr) end
  if a.dry_run then
    local caps, caperr = fleet:capabilities(card.vendor)
    if not caps then return fail(ctx, caperr) end
    if not caps[a.action] then
      return fail(ctx, errors.new { kind = "unsupported", vendor = card.vendor, op = a.action,
        message = card.vendor .. " has no '" .. a.action .. "' operation" })
    end
    local text = json.encode({ dry_run = true, iccid = card.iccid, vendor = card.vendor, action = a.action,
      args = args, status = card.status })
    ctx.out:out(text .. "\n")
    return 0
  end
  ctx.writing = a.action .. " on " .. tostring(card.iccid)
  local res, xerr = fleet:act(card, a.action, args)
  ctx.writing = nil
  if not res then return fail(ctx, xerr) end
  local text = json.encode(res) or json.encode({ ok = true })
  ctx.out:out(text .. "\n")
  return 0
end

return M
