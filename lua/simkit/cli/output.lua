--- Output of the `simkit` command: records as table / JSON / JSON Lines /
-- CSV on stdout, one-line errors and progress on stderr, and the redaction
-- of secrets from everything written.
-- @module simkit.cli.output
local json = require "simkit.json"

local M = {}

--- The output formats `--format` accepts.
M.FORMATS = { "table", "json", "jsonl", "csv" }

--- A new writer.
-- @tparam table opts `stdout`, `stderr` (file handles, default io.stdout /
--   io.stderr), `quiet` (no progress), `tty` (stderr is a terminal; progress
--   shows only then), `secrets` (strings never to be written)
-- @treturn table the writer (`out`, `err`, `progress`, `done_progress`, `records`, `redact`)
function M.new(opts)
  opts = opts or {}
  local self = { stdout = opts.stdout or io.stdout, stderr = opts.stderr or io.stderr,
    progress_on = opts.tty == true and not opts.quiet, secrets = {}, pending = false }
  for _, s in ipairs(opts.secrets or {}) do self.secrets[#self.secrets + 1] = s end
  -- longest first: a secret that contains another is removed whole
  table.sort(self.secrets, function(a, b) return #a > #b end)
  return setmetatable(self, { __index = M })
end

--- Remove every known secret from a text.
-- @tparam string text
-- @treturn string the text with each secret replaced by `***`
function M:redact(text)
  text = tostring(text)
  for _, s in ipairs(self.secrets) do
    local i = 1
    while true do
      local a, b = text:find(s, i, true)
      if not a then break end
      text = text:sub(1, a - 1) .. "***" .. text:sub(b + 1)
      i = a + 3
    end
  end
  return text
end

--- Add a secret to redact (profiles call it for every credential).
-- @tparam string s the secret (ignored when shorter than 4 characters or not a string)
function M:add_secret(s)
  if type(s) == "string" and #s >= 4 then
    self.secrets[#self.secrets + 1] = s
    table.sort(self.secrets, function(a, b) return #a > #b end)
  end
end

local function clear_progress(self)
  if self.pending then
    self.stderr:write("\r\27[K")
    self.pending = false
  end
end

--- Write text to stdout (redacted).
-- @tparam string text
function M:out(text)
  clear_progress(self)
  self.stdout:write(self:redact(text))
end

--- Write one error line to stderr: `simkit: ...`, newlines folded, redacted.
-- @param e a simkit error or a message
function M:err(e)
  clear_progress(self)
  local line = tostring(e):gsub("[\r\n]+", " ")
  if not line:match("^simkit[ :]") then line = "simkit: " .. line end
  self.stderr:write(self:redact(line), "\n")
end

--- A verbose log line on stderr (redacted).
-- @tparam string text
function M:log(text)
  clear_progress(self)
  self.stderr:write(self:redact("simkit: " .. tostring(text):gsub("[\r\n]+", " ")), "\n")
end

--- Show a progress line on stderr (overwritten by the next one); nothing
-- unless stderr is a terminal and `--quiet` was not given.
-- @tparam string text
function M:progress(text)
  if not self.progress_on then return end
  self.stderr:write("\r\27[K", self:redact(text))
  self.stderr:flush()
  self.pending = true
end

--- End a progress line (keeps its last text on screen).
function M:done_progress()
  if self.pending then
    self.stderr:write("\n")
    self.pending = false
  end
end

-- A cell's text: integers exact, tables as JSON, nil empty.
local function cell(v)
  if v == nil or v == json.null then return "" end
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math.type and math.type(v) == "integer" then return string.format("%d", v) end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%.0f", v) end
    return string.format("%.6g", v)
  end
  if t == "boolean" then return tostring(v) end
  if t == "table" then return json.encode(v) or "" end
  return tostring(v)
end
M.cell = cell

--- A CSV field per RFC 4180: quoted when it holds a comma, a quote, CR or LF.
-- @param v a value
-- @treturn string
function M.csv_field(v)
  local s = cell(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- The columns of a list of records: the given ones, or the union of the
-- records' keys, sorted.
local function columns_of(rows, columns)
  if columns then return columns end
  local seen, cols = {}, {}
  for _, r in ipairs(rows) do
    if type(r) == "table" then
      for k in pairs(r) do
        if type(k) == "string" and not seen[k] then seen[k] = true; cols[#cols + 1] = k end
      end
    end
  end
  table.sort(cols)
  return cols
end

local function ulen(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

--- Render records in a format.
-- @tparam {table,...} rows the records
-- @tparam string format "table", "json", "jsonl" or "csv"
-- @tparam[opt] {string,...} columns the columns (table and csv), in order;
--   default: every key of the records, sorted
-- @treturn string|nil the text, or nil and a message (a value JSON cannot encode)
function M.render(rows, format, columns)
  if format == "json" then
    local text, err = json.encode(json.array(rows))
    if not text then return nil, err end
    return text .. "\n"
  elseif format == "jsonl" then
    local lines = {}
    for i, r in ipairs(rows) do
      local text, err = json.encode(r)
      if not text then return nil, err end
      lines[i] = text .. "\n"
    end
    return table.concat(lines)
  end
  local cols = columns_of(rows, columns)
  local function get(r, c) if type(r) == "table" then return r[c] end return c == "value" and r or nil end
  if format == "csv" then
    local lines = {}
    local head = {}
    for i, c in ipairs(cols) do head[i] = M.csv_field(c) end
    lines[1] = table.concat(head, ",")
    for _, r in ipairs(rows) do
      local f = {}
      for i, c in ipairs(cols) do f[i] = M.csv_field(get(r, c)) end
      lines[#lines + 1] = table.concat(f, ",")
    end
    return table.concat(lines, "\r\n") .. "\r\n"
  elseif format == "table" then
    local widths, grid = {}, {}
    for i, c in ipairs(cols) do widths[i] = ulen(c) end
    for j, r in ipairs(rows) do
      grid[j] = {}
      for i, c in ipairs(cols) do
        local s = cell(get(r, c)):gsub("[\r\n\t]", " ")
        grid[j][i] = s
        if ulen(s) > widths[i] then widths[i] = ulen(s) end
      end
    end
    local function line(vals)
      local parts = {}
      for i, s in ipairs(vals) do
        parts[i] = i < #vals and (s .. string.rep(" ", widths[i] - ulen(s))) or s
      end
      return table.concat(parts, "  ") .. "\n"
    end
    local out = { line((function() local h = {} for i, c in ipairs(cols) do h[i] = c:upper() end return h end)()) }
    for j = 1, #grid do out[#out + 1] = line(grid[j]) end
    return table.concat(out)
  end
  error("simkit.cli.output.render: unknown format '" .. tostring(format) .. "' (table, json, jsonl, csv)", 2)
end

--- Is a file handle a terminal? (lua-term's isatty)
-- @param fh a file handle
-- @treturn boolean
function M.isatty(fh)
  local ok, term = pcall(require, "term")
  if not ok or type(term.isatty) ~= "function" then return false end
  local ok2, res = pcall(term.isatty, fh)
  return ok2 and res == true
end

return M
