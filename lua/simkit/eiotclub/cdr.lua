--- EIOTCLUB CDR files (CSV pushed by FTP every 30 minutes).
--
-- Eight columns: `id, start_time, stop_time, iccid, imsi, data_usage, imei,
-- mccmnc`. A row is a table:
--
--     { id = 1234567890123, start_time = 1768435200, stop_time = 1768436100,
--       start_time_text = "2026-01-15 00:00:00", stop_time_text = "...",
--       iccid = "8985...", imsi = "4540...", data_usage = 1048576,
--       imei = "8612...", mccmnc = "45400", line = 2 }
--
-- * `id` and `data_usage` are integers (Lua integers on 5.3+/5.4, exact over
--   int64). On LuaJIT / Lua 5.1 a value above 2^53 is kept as its decimal
--   string (a double could not hold it exactly).
-- * times are `yyyy-MM-dd HH:mm:ss` in UTC; they become epoch seconds
--   computed from the calendar directly (no `os.time`, so the local time zone
--   of the machine plays no part). The original text is kept.
-- * `mccmnc` is an opaque string (the vendor's description is garbled).
-- * Line ends: LF, CRLF or CR (any mix). Blank lines are skipped. Fields are
--   trimmed of spaces and tabs and may be double-quoted (`""` inside; no line
--   end inside). A UTF-8 BOM is dropped.
-- * Only line 1 may be a header, and only with exactly these eight column
--   names (any case); a line 1 starting with `id` that is not exactly that
--   header is an error, as is `id` on any later line.
-- * A line longer than `max_line` bytes (default `MAX_LINE`, 65536; a CDR
--   line is about 130) is an error; it is never buffered whole, so a file with
--   a 32 MB line costs no more than reading it.
-- * A malformed line is never dropped silently: `parse` fails with its line
--   number, `rows` yields `false, err` for it (see `rows`). Errors have
--   `kind = "decode"` and `err.line`; bad arguments `kind = "input"`.
-- * Linear time in the size of the input, whatever it holds: the lines are
--   split, trimmed and typed in one pass in C (`src/cdr.c`).
--
-- Also reachable as `simkit.cdr` and `require "simkit.cdr"` (aliases).
-- @module simkit.eiotclub.cdr
local core = require "simkit.core"
local errors = require "simkit.errors"
local util = require "simkit.util"

local M = {}

--- Default longest line accepted, in bytes (option `max_line`).
M.MAX_LINE = 65536
--- Largest `max_line` accepted (1 GiB).
M.MAX_LINE_LIMIT = 1024 * 1024 * 1024

local cdr_parse = core.cdr_parse
local find, concat = string.find, table.concat

--- Days since 1970-01-01 of a proleptic Gregorian date (`simkit.util`'s).
-- @function days_from_civil
-- @tparam number y year
-- @tparam number m month 1-12
-- @tparam number d day 1-31
-- @treturn number days (may be negative)
M.days_from_civil = util.days_from_civil

--- Epoch seconds of a UTC `yyyy-MM-dd HH:mm:ss` text, or nil (also for a
-- value that is not a string).
-- @tparam string text
-- @treturn number|nil
function M.utc_epoch(text)
  if type(text) ~= "string" then return nil end
  return core.cdr_utc_epoch(text)
end

local function input(message)
  return errors.input(message, { vendor = "eiotclub", op = "cdr" })
end

local function bad(lineno, msg)
  return errors.new { kind = "decode", vendor = "eiotclub", op = "cdr", line = lineno,
    message = "CDR line " .. lineno .. ": " .. msg }
end

-- The options table of parse/rows: a programming error raises, saying what to do.
local function options(fname, opts)
  if opts == nil then return M.MAX_LINE, 65536 end
  if type(opts) == "number" then opts = { chunk_size = opts } end -- rows(path, chunk_size), as before
  if type(opts) ~= "table" then
    error("simkit.cdr." .. fname .. ": opts must be a table { max_line = bytes, chunk_size = bytes } or nil", 3)
  end
  local function int(name, default, max)
    local v = opts[name]
    if v == nil then return default end
    if type(v) ~= "number" or v ~= v or v < 1 or v > max or v ~= math.floor(v) then
      error(string.format("simkit.cdr.%s: opts.%s must be an integer from 1 to %d, got %s", fname, name, max,
        tostring(v)), 4)
    end
    return math.floor(v)
  end
  return int("max_line", M.MAX_LINE, M.MAX_LINE_LIMIT), int("chunk_size", 65536, 64 * 1024 * 1024)
end

--- Parse one CSV line (without its line end).
-- @tparam string line
-- @tparam[opt=1] number lineno its line number (1: it may be the header)
-- @return a row, `false` for a blank or header line, or nil and an error
function M.parse_line(line, lineno)
  if type(line) ~= "string" then return nil, input("CDR line must be a string, got " .. type(line)) end
  lineno = lineno or 1
  if type(lineno) ~= "number" or lineno ~= math.floor(lineno) or lineno < 1 or lineno > 2 ^ 53 then
    return nil, input("CDR line number must be a positive integer, got " .. tostring(lineno))
  end
  if find(line, "[\r\n]") then return nil, input("a CDR line has no line end inside") end
  local rows = {}
  local _, _, n, msg = cdr_parse(line, 1, math.floor(lineno) - 1, true, #line + 1, rows, 0, false)
  if msg then return nil, bad(math.floor(lineno), msg) end
  return n == 1 and rows[1] or false
end

--- Parse a whole CDR file held in a string.
-- @tparam string text
-- @tparam[opt] table opts `max_line` (bytes, default `MAX_LINE`)
-- @treturn table|nil the rows in file order, or nil and an error (kind
--   "decode", `err.line` = the line number; "input" when text is not a string)
function M.parse(text, opts)
  local max_line = options("parse", opts)
  if type(text) ~= "string" then return nil, input("CDR text must be a string, got " .. type(text)) end
  local rows = {}
  -- Everything the parse allocates is kept (the rows) or tiny (an error's
  -- text): a collection cycle meanwhile would only walk the growing rows
  -- again, cache miss after cache miss (on Lua 5.4 that halved the rows per
  -- second of a 200,000-row file). So the collector pauses for the one C
  -- call and resumes as it was, also when the call raises (out of memory).
  local known, running = pcall(collectgarbage, "isrunning") -- (Lua 5.1 cannot say: left alone there)
  running = known and running
  if running then collectgarbage("stop") end
  local ok, raised, lineno, _, msg = pcall(cdr_parse, text, 1, 0, true, max_line, rows, 0, false)
  if running then collectgarbage("restart") end
  if not ok then error(raised, 0) end
  if msg then return nil, bad(lineno, msg) end
  return rows
end

--- Iterate over the rows of a CDR file, reading it in chunks (constant
-- memory whatever the file size: one chunk and at most one line are held).
--
--     for row, err in simkit.cdr.rows(path) do
--       if not row then log(err) else store(row) end   -- or: break
--     end
--
-- Each step returns a row; a malformed line (a too long one included)
-- returns `false, err` (err.line is its number) and iteration goes on with
-- the next line; a file that cannot be opened or read returns `false, err`
-- (kind "input") once, then stops. The file is closed at its end, on a read
-- error, and — on Lua 5.4, whose generic `for` closes its 4th value — when
-- the loop is left early (elsewhere the handle is closed when collected).
-- @tparam string path
-- @tparam[opt] table opts `max_line` (bytes, default `MAX_LINE`),
--   `chunk_size` (bytes per read, default 65536); a number is `chunk_size`
-- @treturn function iterator
function M.rows(path, opts)
  local max_line, chunk_size = options("rows", opts)
  local failed = false
  local function once(err)
    return function()
      if failed then return nil end
      failed = true
      return false, err
    end
  end
  if type(path) ~= "string" then return once(input("CDR path must be a string, got " .. type(path))) end
  local fh, oerr = io.open(path, "rb")
  if not fh then return once(input("cannot open CDR file: " .. tostring(oerr))) end
  local function close()
    failed = true -- a closed walk yields nothing more
    if fh then
      fh:close()
      fh = nil
    end
  end
  -- pieces: the start of a line that the chunks read so far do not end
  -- (kept as a list, joined once when its end arrives: linear for any line)
  local pieces, plen = {}, 0
  local batch, bi, bn = {}, 0, 0
  local lineno, skipping, eof = 0, false, false
  local text, pos -- the text being parsed (nil: read a chunk first)
  local pending -- an error to yield after the rows before it

  local function step() -- parse what there is; false when nothing more will come
    if text then
      local final = eof
      local npos, nline, n, msg, skip = cdr_parse(text, pos, lineno, final, max_line, batch, 0, skipping)
      bi, bn, lineno, skipping = 0, n, nline, skip
      if msg then pending = bad(nline, msg) end
      if msg and not skip and npos <= #text then
        pos = npos -- more lines after the bad one
      else -- the rest (if any) starts a line that the next chunk goes on with
        local rest = npos <= #text and text:sub(npos) or ""
        pieces, plen, text = { rest }, #rest, nil
      end
      return true
    end
    if eof then return false end
    local chunk, rerr = fh:read(chunk_size)
    if chunk == nil and rerr then
      pending = errors.new { kind = "input", vendor = "eiotclub", op = "cdr",
        message = "cannot read CDR file: " .. tostring(rerr) .. " (after line " .. lineno .. ")" }
      eof, pieces = true, {}
      return true
    end
    if chunk == nil then
      eof = true
      text, pos = concat(pieces), 1
      pieces, plen = {}, 0
      return true
    end
    pieces[#pieces + 1] = chunk
    plen = plen + #chunk
    -- no line end yet, short enough: keep reading (never rescanning)
    if not skipping and plen <= max_line and not find(chunk, "[\r\n]") then return true end
    text, pos = concat(pieces), 1
    pieces, plen = {}, 0
    return true
  end

  local iter = function()
    if failed then return nil end
    while true do
      if bi < bn then
        bi = bi + 1
        local row = batch[bi]
        batch[bi] = nil
        return row
      end
      if pending then
        local err = pending
        pending = nil
        if err.kind == "input" then close() end -- a read error ends the walk
        return false, err
      end
      if not step() then
        close()
        return nil
      end
    end
  end
  return iter, nil, nil, setmetatable({}, { __close = close })
end

--- Parse a CDR file name `cdr_{account}_{start}_{end}_{generated}.csv`
-- (times `yyyyMMddHHmmss`; the vendor does not state their time zone:
-- they are read as UTC, like the CDR times). A directory part is ignored.
-- @tparam string name
-- @treturn table|nil `{ account=, start=, ["end"]=, generated=, start_text=,
--   end_text=, generated_text= }` (epoch seconds), or nil and an error
function M.parse_filename(name)
  if type(name) ~= "string" then return nil, input("CDR file name must be a string, got " .. type(name)) end
  local base = name:match("([^/\\]+)$") or ""
  local account, a, b, c = base:match("^cdr_([%w%-]+)_(%d+)_(%d+)_(%d+)%.[cC][sS][vV]$")
  local function t14(s)
    if not s or #s ~= 14 then return nil end
    return core.cdr_utc_epoch(s:sub(1, 4) .. "-" .. s:sub(5, 6) .. "-" .. s:sub(7, 8) .. " " .. s:sub(9, 10) ..
      ":" .. s:sub(11, 12) .. ":" .. s:sub(13, 14))
  end
  local s, e, g = t14(a), t14(b), t14(c)
  if not (account and s and e and g) then
    return nil, errors.input("not a CDR file name (cdr_{account}_{yyyyMMddHHmmss}x3.csv): " .. base,
      { vendor = "eiotclub", op = "cdr" })
  end
  return { account = account, start = s, ["end"] = e, generated = g,
    start_text = a, end_text = b, generated_text = c }
end

return M
