--- EIOTCLUB CDR rows per second.
-- Measured: simkit.cdr.rows(path) (streaming, typed and validated rows) and
-- simkit.cdr.parse(text) on the same text, over a generated CDR file (header
-- row, 8 columns, CRLF) of SIMKIT_CDR_ROWS rows (default 200000).
-- Baseline, in the same process: `for line in io.lines(path)` splitting each
-- line on commas into a table, with no typing or validation. Goal (#11):
-- >= 0.8x that baseline while typing every field (the parsing is in C,
-- src/cdr.c). Then seconds per MB on one long line at two sizes (linear
-- time, #10.7). Also prints the Lua heap while streaming
-- (peak of collectgarbage("count")) against the file size: rows() keeps
-- constant memory. Rates alternate over a few rounds; the best round counts.
local simkit = require "simkit"

-- `--count WHAT ROWS`: the driver of the instruction row (run under callgrind
-- by this bench itself): make the file of ROWS rows, then WHAT: "gen"
-- nothing more, "text" read it whole, "baseline" split its lines, "parse"
-- read it whole and cdr.parse it
local COUNT = arg and arg[1] == "--count" and arg[2]
local N = COUNT and tonumber(arg[3]) or tonumber(os.getenv("SIMKIT_CDR_ROWS")) or 200000
local ROUNDS = 2
local clock = os.clock
local find, sub = string.find, string.sub

if not COUNT then print(string.format("# %s, %d rows", _VERSION .. (jit and (" / " .. jit.version) or ""), N)) end

----------------------------------------------------------------------------
-- the file: id, start_time, stop_time, iccid, imsi, data_usage, imei, mccmnc

local path = os.tmpname()

local function days_to_date(days) -- civil date of a day number (1970-01-01 = 0), for the generator only
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return y, m, d
end

local function stamp(t)
  local y, m, d = days_to_date(math.floor(t / 86400))
  local s = t % 86400
  return string.format("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, math.floor(s / 3600), math.floor(s / 60) % 60, s % 60)
end

local function main()
  local BASE = 1768435200 -- 2026-01-15 00:00:00 UTC
  local expected_usage = 0
  do
    local f = assert(io.open(path, "wb"))
    local parts = { "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc\r\n" }
    for i = 1, N do
      local st = BASE + (i * 7) % 1800
      local usage = (i * 7919) % 50000000
      expected_usage = expected_usage + usage
      parts[#parts + 1] = string.format("%d,%s,%s,898520123456%08d,4540012%08d,%d,86123456%07d,%s\r\n",
        1234567890000 + i, stamp(st), stamp(st + 60 + i % 840), i % 5000, i % 5000, usage, i % 100000,
        i % 3 == 0 and "45400" or "46001")
      if #parts >= 5000 then
        f:write(table.concat(parts))
        parts = {}
      end
    end
    f:write(table.concat(parts))
    f:close()
  end
  ----------------------------------------------------------------------------
  -- the three readers; each returns the number of data rows it saw

  local function baseline()
    local n = 0
    for line in io.lines(path) do
      local fields, pos = {}, 1
      while true do
        local c = find(line, ",", pos, true)
        if not c then
          fields[#fields + 1] = sub(line, pos)
          break
        end
        fields[#fields + 1] = sub(line, pos, c - 1)
        pos = c + 1
      end
      if fields[1] ~= "id" then n = n + 1 end
    end
    return n
  end

  if COUNT then
    if COUNT == "baseline" then assert(baseline() == N) end
    if COUNT == "text" or COUNT == "parse" then
      local fh = assert(io.open(path, "rb"))
      local text = fh:read("*a")
      fh:close()
      if COUNT == "parse" then assert(#assert(simkit.cdr.parse(text)) == N) end
    end
    return
  end

  local usage_sum = 0
  local function streamed(sample)
    local n = 0
    usage_sum = 0
    for row, err in simkit.cdr.rows(path) do
      if not row then error("cdr.rows: " .. tostring(err)) end
      n = n + 1
      usage_sum = usage_sum + row.data_usage
      if sample and n % 500 == 0 then sample(n) end
    end
    return n
  end

  local text, size
  local function parsed()
    local rows, err = simkit.cdr.parse(text)
    if not rows then error("cdr.parse: " .. tostring(err)) end
    assert(rows[N].id == 1234567890000 + N and rows[N].line == N + 1, "cdr.parse: last row differs")
    return #rows, rows
  end

  local function timed(f)
    collectgarbage()
    local t0 = clock()
    local n, extra = f()
    return n / (clock() - t0), n, extra
  end

  -- memory while streaming, measured first, with nothing big alive: the peak
  -- of the Lua heap over the first 10% of the rows and over all of them (the
  -- same peak = constant memory; the rest is the collector's pacing)
  -- (this pass is also the first round of the cdr.rows timing)
  collectgarbage()
  local start_kb = collectgarbage("count")
  local peak_kb, peak10_kb = start_kb, nil
  local t_mem = clock()
  local n_mem = streamed(function(n)
    local kb = collectgarbage("count")
    if kb > peak_kb then peak_kb = kb end
    if n == math.floor(N / 10 / 500) * 500 then peak10_kb = peak_kb end
  end)
  t_mem = clock() - t_mem
  assert(n_mem == N, "cdr.rows gave " .. n_mem .. " rows, expected " .. N)
  assert(usage_sum == expected_usage, "cdr.rows: data_usage sum differs")

  do
    local fh = assert(io.open(path, "rb"))
    text = fh:read("*a")
    fh:close()
    size = #text
  end
  print(string.format("# file %s: %.1f MB", path, size / 1048576))

  -- correctness on a small slice first (typed values, line numbers)
  do
    local first = assert(simkit.cdr.parse(text:sub(1, 400):match("^(.*\r\n)")))
    assert(first[1].id == 1234567890001 and first[1].line == 2 and first[1].start_time == BASE + 7,
      "unexpected first row")
  end

  local best = { baseline = 0, rows = N / t_mem, parse = 0 }
  local parse_kb
  for round = 1, ROUNDS do
    local r, n = timed(baseline)
    assert(n == N, "baseline saw " .. n .. " rows, expected " .. N)
    if r > best.baseline then best.baseline = r end

    if round > 1 then
      r, n = timed(streamed)
      assert(n == N, "cdr.rows gave " .. n .. " rows, expected " .. N)
      assert(usage_sum == expected_usage, "cdr.rows: data_usage sum differs")
      if r > best.rows then best.rows = r end
    end

    collectgarbage()
    local before_kb = collectgarbage("count")
    local rows
    r, n, rows = timed(parsed)
    assert(n == N, "cdr.parse gave " .. n .. " rows, expected " .. N)
    if round == 1 then -- the memory cdr.parse's result holds
      collectgarbage()
      parse_kb = collectgarbage("count") - before_kb
    end
    assert(#rows == N)
    if r > best.parse then best.parse = r end
  end

  local function row(name, figure, base)
    print(string.format("%-30s %10.0f rows/s   baseline io.lines+split %10.0f rows/s   ratio %5.2fx   goal >= 0.80x",
      name, figure, base, figure / base))
  end
  row("cdr.rows(path) streaming", best.rows, best.baseline)
  row("cdr.parse(text) whole file", best.parse, best.baseline)
  print(string.format("%-34s peak Lua heap +%.2f MB over the first 10%% of rows, +%.2f MB over all (start %.2f MB)"
    .. " for a %.1f MB file; cdr.parse's rows hold %.1f MB",
    "cdr.rows memory (constant)", (peak10_kb - start_kb) / 1024, (peak_kb - start_kb) / 1024, start_kb / 1024,
    size / 1048576, parse_kb / 1024))

  -- linear time (#10.7): seconds per MB for one long line of 8 and 32 MB
  -- (max_line raised so that it is read) and for fields of spaces; a
  -- quadratic parser would take 4x longer per MB on the 32 MB line
  local function per_mb(mb, pad)
    local line = pad and ("1," .. string.rep(" ", mb * 1048576) .. "2026-01-15 00:00:00,2026-01-15 00:00:01,1,2,3,4,5")
      or ("1," .. string.rep("x", mb * 1048576))
    local fastest
    for _ = 1, 3 do -- the best of three: one run alone moves with first-touch page faults and collections
      collectgarbage()
      local t0 = clock()
      local rows = simkit.cdr.parse(line, { max_line = 64 * 1048576 })
      local t = clock() - t0
      assert((rows ~= nil) == (pad == true), "unexpected result")
      if not fastest or t < fastest then fastest = t end
    end
    return fastest / mb
  end
  local a, b = per_mb(8), per_mb(32)
  print(string.format("%-30s %.4f s/MB at 8 MB, %.4f s/MB at 32 MB: ratio %.2f (linear: about 1)",
    "cdr.parse one long line", a, b, b / a))
  a, b = per_mb(8, true), per_mb(32, true)
  print(string.format("%-30s %.4f s/MB at 8 MB, %.4f s/MB at 32 MB: ratio %.2f (linear: about 1)",
    "cdr.parse a field of spaces", a, b, b / a))

  -- user-space instructions per row (callgrind: the same whatever else runs
  -- on the machine), cdr.parse against the baseline: the difference between
  -- runs of 10000 and 30000 rows, less making (and, for parse, reading) the file
  local proc = require "spec.support.proc"
  if os.getenv("SIMKIT_BENCH_IR") ~= "0" and proc.sh("command -v valgrind") then
    local lua = arg[-1] or "lua5.4"
    local function instructions(what, rows)
      local okc, out = proc.sh("valgrind --tool=callgrind --callgrind-out-file=/dev/null " .. proc.q(lua) .. " "
        .. proc.q(arg[0]) .. " --count " .. what .. " " .. rows)
      local total = out:match("Collected : ([%d,]+)")
      assert(okc and total, "callgrind failed: " .. out)
      return tonumber((total:gsub(",", "")))
    end
    local function per_row(what) return (instructions(what, 30000) - instructions(what, 10000)) / 20000 end
    local gen, text_ir = per_row("gen"), per_row("text")
    local mine, base = per_row("parse") - text_ir, per_row("baseline") - gen
    print(string.format("%-30s %10.1f k/row     baseline io.lines+split %10.1f k/row     ratio %5.2fx   "
      .. "(callgrind: immune to load; typed and checked vs split only)", "cdr.parse instructions", mine / 1000,
      base / 1000, base / mine))
  end
end

-- the temp file goes away even when a check fails
local ok, err = pcall(main)
os.remove(path)
if not ok then error(err, 0) end
