--- Pieces every vendor adapter shares (internal): option checks, HTTP
-- status errors, JSON body decoding, pagination from descriptors.
--
-- THE ADAPTER CONTRACT (also in docs/pipeline.md). An adapter is a table:
--
--   name            "eiotclub" | "huawei" | "tibiot"
--   ops             the GENERATED descriptors (tools/gen_vendor.lua): op ->
--                   method, path, params, read, response, pagination, order
--                   (money: key, id, lookup, probe), guard, rate_per_s,
--                   one_of, ... Everything simkit knows about an op is there.
--   OPTIONS         the vendor's own client option names
--   init(opts, env) -> cfg, secrets      checks options (raises on misuse);
--                   env.store is the client's simkit.store
--   describe(cfg)   -> string for tostring(client), never a secret
--   admit(ctx, args) [optional] -> true | release_fn | nil, err
--                   rate limits, pacing, guards, all in ctx.store; the one
--                   hook that may wait (ctx.sleep). `release_fn(err)` is
--                   called when the attempt fails (to give a guard back).
--   authenticate(ctx, refused) [optional] -> auth | nil, err
--                   credentials for one attempt (a token from ctx.store; a
--                   fetch goes through ctx:request). `refused` is a token
--                   the vendor just refused: get another.
--   build(ctx, args, auth) -> req | nil, err      PURE: no sleep, no I/O
--   parse(ctx, res, auth) -> data | nil, err, full  PURE. An error with
--                   `token_refused = auth.token` makes the pipeline
--                   re-authenticate once (the field never leaves it).
--   call(ctx, args, send) [optional] -> data, err   wraps one logical call
--                   (orders, cross-field checks); `send(args, opts)` runs
--                   the attempts (opts: retries, timeout, deadline).
--   pagination(name, op) -> descriptor | nil   (`M.pagination` below)
--   methods         extra client methods: fn(mctx, ...), mctx = { client,
--                   cfg, vendor, call, sleep, clock, store }
--
-- `ctx` (one per call): vendor, op, spec (the descriptor), read, cfg,
-- secrets, store, state (per client, never shared state), attempt,
-- deadline, sleep, clock, and two methods: ctx:request(req[, timeout]) ->
-- res | nil, err and ctx:call(op, args[, opts]) -> data, err, full (what
-- every call of a client shares is read through the context's metatable;
-- a hook never copies or iterates a context). No adapter reads the client's
-- fields; retry decisions are the pipeline's alone (client.should_retry):
-- adapters only describe errors (kind, retryable, not_processed, sent).
-- @module simkit.vendor.common
local errors = require "simkit.errors"
local json = require "simkit.json"
local util = require "simkit.util"

local M = {}

--- Raise a configuration error (a programming error: raised, not returned).
function M.config_error(vendor, msg)
  error("simkit.client(\"" .. vendor .. "\"): " .. msg, 4)
end

--- Require a non-empty string option.
function M.need_string(vendor, opts, key)
  local v = opts[key]
  if type(v) ~= "string" or v == "" then
    M.config_error(vendor, "option '" .. key .. "' is required (a non-empty string)")
  end
  return v
end

--- Check an http(s) base URL and strip its trailing slash.
function M.base_url(vendor, v, key)
  if type(v) ~= "string" or not v:match("^https?://[^/]+") then
    M.config_error(vendor, "option '" .. key .. "' must be an http(s) URL")
  end
  return (v:gsub("/+$", ""))
end

--- A short, printable excerpt of a response body (HTML error pages...).
function M.snippet(body)
  body = tostring(body or "")
  body = body:gsub("%s+", " ")
  if #body > 200 then body = body:sub(1, 200) .. "..." end
  return body
end

--- A response header by name, whatever its case in `headers`.
-- @tparam table headers
-- @tparam string name lower-case name
function M.header(headers, name)
  if type(headers) ~= "table" then return nil end
  local v = headers[name]
  if v ~= nil then return v end
  for k, x in pairs(headers) do
    if type(k) == "string" and k:lower() == name then return x end
  end
  return nil
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }

--- The longest Retry-After taken from a server (seconds; a week).
M.MAX_RETRY_AFTER = 7 * 86400

--- Parse a Retry-After header: delay-seconds, or an HTTP-date
-- ("Wed, 21 Oct 2015 07:28:00 GMT") turned into the seconds from now.
-- @treturn number|nil seconds (>= 0)
function M.retry_after(headers)
  local v = M.header(headers, "retry-after")
  if type(v) ~= "string" and type(v) ~= "number" then return nil end
  v = tostring(v)
  local n = tonumber(v)
  -- what a server sends is data: "1e999" or "-1" is no usable delay
  if n then return (util.finite(n) and n >= 0 and n <= M.MAX_RETRY_AFTER) and n or nil end
  local d, mon, y, h, mi, s = v:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  local t = util.days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400 + tonumber(h) * 3600
    + tonumber(mi) * 60 + tonumber(s)
  local wait = t - math.floor(util.now())
  if wait > M.MAX_RETRY_AFTER then return nil end
  return math.max(0, wait)
end

--- Error for a non-2xx HTTP answer that carries no vendor error body.
function M.http_error(ctx, res, extra)
  local status = res.status
  local f = {
    kind = status == 429 and "rate_limited" or ((status == 401 or status == 403) and "auth" or "http"),
    vendor = ctx.vendor, op = ctx.op, status = status,
    message = "unexpected HTTP status " .. tostring(status) .. ": " .. M.snippet(res.body),
    retryable = (status == 429 or status == 502 or status == 503 or status == 504 or status == 500) and true or false,
    retry_after = M.retry_after(res.headers),
  }
  for k, v in pairs(extra or {}) do f[k] = v end
  return errors.new(f)
end

local json_decode = require("simkit.core").json_decode

--- Decode a JSON body; a failure is a `decode` error (a truncated or HTML
-- body). Retryable for reads only.
function M.decode_body(ctx, res)
  local text = res.body or ""
  -- the core's decoder straight away for the usual string (json.decode
  -- words the error for anything else)
  local body, err
  if type(text) == "string" then body, err = json_decode(text) else body, err = json.decode(text) end
  if body == nil then
    return nil, errors.new {
      kind = "decode", vendor = ctx.vendor, op = ctx.op, status = res.status,
      message = "response is not valid JSON (" .. tostring(err) .. "): " .. M.snippet(res.body),
      retryable = ctx.read,
    }
  end
  return body
end

--- The pagination of a paged op, from its generated descriptor
-- (`op.pagination`: page, page_type, size, default_size, max_size, items,
-- total, total_kind), in the form `client:pages` walks; nil when not paged.
-- @tparam string _ the op's name
-- @tparam table op the op's descriptor
function M.pagination(_, op)
  local pg = op.pagination
  if not pg then return nil end
  local kind = pg.total_kind or ""
  return {
    page = pg.page, page_type = pg.page_type, size = pg.size,
    default_size = pg.default_size,
    items_of = function(full) return util.get_path(full, pg.items) end,
    total_of = pg.total and function(full)
      return tonumber(util.get_path(full, pg.total))
    end or nil,
    total_kind = kind:match("^pages") and "pages" or (kind:match("^records") and "records" or nil),
  }
end

return M
