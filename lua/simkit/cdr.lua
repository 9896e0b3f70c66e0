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
-- * A header row (first field `id`) is skipped, CRLF line ends are accepted,
--   blank lines are skipped, fields may be double-quoted (no newline inside).
-- * A malformed line is never dropped silently: `parse` fails with its line
--   number, `rows` yields `false, err` for it (see `rows`).
-- @module simkit.cdr
local errors = require "simkit.errors"
local util = require "simkit.util"

local M = {}

local HAS_INT = math.type ~= nil
local MAXI = "9223372036854775807"
local MAX53 = "9007199254740992"

--- Days since 1970-01-01 of a proleptic Gregorian date (`simkit.util`'s).
-- @function days_from_civil
-- @tparam number y year
-- @tparam number m month 1-12
-- @tparam number d day 1-31
-- @treturn number days (may be negative)
M.days_from_civil = util.days_from_civil

local function epoch(y, mo, d, h, mi, s)
  y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  if mo < 1 or mo > 12 or d < 1 then return nil end
  if d > util.days_in_month(y, mo) or h > 23 or mi > 59 or s > 59 then return nil end
  return M.days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
end

--- Epoch seconds of a UTC `yyyy-MM-dd HH:mm:ss` text, or nil.
-- @tparam string text
-- @treturn number|nil
function M.utc_epoch(text)
  local y, mo, d, h, mi, s = tostring(text):match("^(%d%d%d%d)%-(%d%d)%-(%d%d) (%d%d):(%d%d):(%d%d)$")
  if not y then return nil end
  return epoch(y, mo, d, h, mi, s)
end

-- Exact integer of a decimal text (see module doc for LuaJIT).
local function int64(s)
  if not s:match("^%d+$") then return nil end
  local digits = s:gsub("^0+", "")
  if digits == "" then return 0 end
  if HAS_INT then
    if #digits > 19 or (#digits == 19 and digits > MAXI) then return nil end
    return math.tointeger(tonumber(digits)) or nil
  end
  if #digits < 16 or (#digits == 16 and digits <= MAX53) then return tonumber(digits) end
  if #digits > 19 or (#digits == 19 and digits > MAXI) then return nil end
  return digits
end

local function split_csv(line)
  local fields = {}
  local pos, n = 1, #line
  while true do
    local c = line:sub(pos, pos)
    if c == '"' then
      local buf, i = {}, pos + 1
      while true do
        local q = line:find('"', i, true)
        if not q then return nil, "unterminated quoted field" end
        buf[#buf + 1] = line:sub(i, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          i = q + 2
        else
          pos = q + 1
          break
        end
      end
      fields[#fields + 1] = table.concat(buf)
      local nc = line:sub(pos, pos)
      if nc == "," then pos = pos + 1
      elseif pos > n then break
      else return nil, "unexpected text after a quoted field" end
    else
      local comma = line:find(",", pos, true)
      if comma then
        fields[#fields + 1] = line:sub(pos, comma - 1)
        pos = comma + 1
      else
        fields[#fields + 1] = line:sub(pos)
        break
      end
    end
  end
  return fields
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function bad(lineno, msg)
  return nil, errors.new { kind = "decode", vendor = "eiotclub", op = "cdr", line = lineno,
    message = "CDR line " .. lineno .. ": " .. msg }
end

--- Parse one CSV line (without its line end).
-- @tparam string line
-- @tparam[opt] number lineno for error messages
-- @return a row, `false` for a blank or header line, or nil and an error
function M.parse_line(line, lineno)
  lineno = lineno or 1
  line = line:gsub("\r$", "")
  if lineno == 1 then line = line:gsub("^\239\187\191", "") end -- UTF-8 BOM
  if line:match("^%s*$") then return false end
  local f, serr = split_csv(line)
  if not f then return bad(lineno, serr) end
  for i = 1, #f do f[i] = trim(f[i]) end
  if f[1]:lower() == "id" then return false end
  if #f ~= 8 then return bad(lineno, "expected 8 fields, got " .. #f) end
  local id = int64(f[1])
  if not id then return bad(lineno, "id '" .. f[1] .. "' is not a 64-bit integer") end
  local st = M.utc_epoch(f[2])
  if not st then return bad(lineno, "start_time '" .. f[2] .. "' is not yyyy-MM-dd HH:mm:ss") end
  local et = M.utc_epoch(f[3])
  if not et then return bad(lineno, "stop_time '" .. f[3] .. "' is not yyyy-MM-dd HH:mm:ss") end
  if f[4] == "" then return bad(lineno, "iccid is empty") end
  local usage = int64(f[6])
  if not usage then return bad(lineno, "data_usage '" .. f[6] .. "' is not a non-negative integer") end
  return {
    id = id, start_time = st, stop_time = et, start_time_text = f[2], stop_time_text = f[3],
    iccid = f[4], imsi = f[5], data_usage = usage, imei = f[7], mccmnc = f[8], line = lineno,
  }
end

--- Parse a whole CDR file held in a string.
-- @tparam string text
-- @treturn table|nil the rows in file order, or nil and an error (kind
--   "decode", `err.line` = the line number)
function M.parse(text)
  if type(text) ~= "string" then error("simkit.cdr.parse: text must be a string", 2) end
  local rows, lineno = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    local row, err = M.parse_line(line, lineno)
    if row == nil then return nil, err end
    if row then rows[#rows + 1] = row end
  end
  -- a text ending in "\n" gives one extra empty line: harmless (blank)
  return rows
end

--- Iterate over the rows of a CDR file, reading it in chunks (constant
-- memory whatever the file size).
--
--     for row, err in simkit.cdr.rows(path) do
--       if not row then log(err) else store(row) end   -- or: break
--     end
--
-- Each step returns a row; a malformed line returns `false, err` (err.line
-- is its number) and iteration goes on with the next line; a file that
-- cannot be opened or read returns `false, err` once, then stops. The file
-- is closed at its end, on a read error, and — on Lua 5.4, whose generic
-- `for` closes its 4th value — when the loop is left early (elsewhere the
-- handle is closed when collected).
-- @tparam string path
-- @tparam[opt=65536] number chunk_size bytes per read
-- @treturn function iterator
function M.rows(path, chunk_size)
  chunk_size = chunk_size or 65536
  local fh, oerr = io.open(path, "rb")
  local buf, pos, lineno, eof, failed = "", 1, 0, false, false
  local function once(message)
    local err = errors.new { kind = "input", vendor = "eiotclub", op = "cdr", message = message }
    return function()
      if failed then return nil end
      failed = true
      return false, err
    end
  end
  if not fh then return once("cannot open CDR file: " .. tostring(oerr)) end
  local function close()
    failed = true -- a closed walk yields nothing more
    if fh then
      fh:close()
      fh = nil
    end
  end
  local read_err
  local function next_line()
    while true do
      local nl = buf:find("\n", pos, true)
      if nl then
        local line = buf:sub(pos, nl - 1)
        pos = nl + 1
        return line
      end
      if eof then
        if pos <= #buf then
          local line = buf:sub(pos)
          pos = #buf + 1
          return line
        end
        return nil
      end
      local chunk, rerr = fh:read(chunk_size)
      buf = buf:sub(pos)
      pos = 1
      if chunk then
        buf = buf .. chunk
      elseif rerr then
        read_err = rerr
        return nil
      else
        eof = true
      end
    end
  end
  local iter = function()
    if failed then return nil end
    while true do
      local line = next_line()
      if not line then
        failed = true
        close()
        if read_err then
          return false, errors.new { kind = "input", vendor = "eiotclub", op = "cdr",
            message = "cannot read CDR file: " .. tostring(read_err) .. " (after line " .. lineno .. ")" }
        end
        return nil
      end
      lineno = lineno + 1
      local row, err = M.parse_line(line, lineno)
      if row == nil then return false, err end
      if row then return row end
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
  local base = tostring(name):match("([^/\\]+)$") or ""
  local account, a, b, c = base:match("^cdr_([%w%-]+)_(%d+)_(%d+)_(%d+)%.[cC][sS][vV]$")
  local function t14(s)
    if not s or #s ~= 14 then return nil end
    return epoch(s:sub(1, 4), s:sub(5, 6), s:sub(7, 8), s:sub(9, 10), s:sub(11, 12), s:sub(13, 14))
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
