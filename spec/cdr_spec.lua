-- simkit.cdr: EIOTCLUB CDR CSV files
local simkit = require "simkit"
local cdr = require "simkit.cdr"

local LINE = "1001,2026-01-15 00:00:00,2026-01-15 00:15:00,89852012345678901234,454001234567890,1048576," ..
  "861234567890123,45400"

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

describe("simkit.cdr", function()
  it("is reachable as simkit.cdr", function()
    assert.equal(cdr, simkit.cdr)
  end)

  it("parses typed rows", function()
    local rows = assert(cdr.parse(LINE .. "\n"))
    assert.equal(1, #rows)
    local r = rows[1]
    assert.equal(1001, r.id)
    assert.equal(1768435200, r.start_time)
    assert.equal(1768435200 + 900, r.stop_time)
    assert.equal("2026-01-15 00:00:00", r.start_time_text)
    assert.equal("2026-01-15 00:15:00", r.stop_time_text)
    assert.equal("89852012345678901234", r.iccid)
    assert.equal("454001234567890", r.imsi)
    assert.equal(1048576, r.data_usage)
    assert.equal("861234567890123", r.imei)
    assert.equal("45400", r.mccmnc)
    if math.type then
      assert.equal("integer", math.type(r.id))
      assert.equal("integer", math.type(r.start_time))
      assert.equal("integer", math.type(r.data_usage))
    end
  end)

  it("keeps mccmnc and ids with leading zeros as text", function()
    local r = assert(cdr.parse("1,2026-01-15 00:00:00,2026-01-15 00:00:01,0089,00454,0,,00101"))[1]
    assert.equal("0089", r.iccid)
    assert.equal("00101", r.mccmnc)
    assert.equal("", r.imei)
    assert.equal(0, r.data_usage)
  end)

  it("64-bit ids: exact integers on 5.4, strings beyond 2^53 on LuaJIT", function()
    local text = "9223372036854775807,2026-01-15 00:00:00,2026-01-15 00:00:01,1,2,9007199254740993,3,4\n" ..
      "9007199254740992,2026-01-15 00:00:00,2026-01-15 00:00:01,1,2,5,3,4"
    local rows = assert(cdr.parse(text))
    if math.type then
      assert.equal(math.maxinteger, rows[1].id)
      assert.equal(9007199254740993, rows[1].data_usage)
    else
      assert.equal("9223372036854775807", rows[1].id)
      assert.equal("9007199254740993", rows[1].data_usage)
    end
    assert.equal(2 ^ 53, rows[2].id)
    assert.is_nil(cdr.parse("9223372036854775808,2026-01-15 00:00:00,2026-01-15 00:00:01,1,2,5,3,4"))
  end)

  it("computes UTC epochs without os.time (leap years, centuries, far dates)", function()
    assert.equal(0, cdr.utc_epoch("1970-01-01 00:00:00"))
    assert.equal(951782400, cdr.utc_epoch("2000-02-29 00:00:00"))
    assert.equal(4107542399, cdr.utc_epoch("2100-02-28 23:59:59"))
    assert.equal(4107542400, cdr.utc_epoch("2100-03-01 00:00:00"))
    assert.equal(-86400, cdr.utc_epoch("1969-12-31 00:00:00"))
    assert.equal(1709164800, cdr.utc_epoch("2024-02-29 00:00:00"))
    assert.is_nil(cdr.utc_epoch("2023-02-29 00:00:00"))
    assert.is_nil(cdr.utc_epoch("2100-02-29 00:00:00"))
    assert.is_nil(cdr.utc_epoch("2026-13-01 00:00:00"))
    assert.is_nil(cdr.utc_epoch("2026-01-01 24:00:00"))
    assert.is_nil(cdr.utc_epoch("2026-01-01T00:00:00"))
    -- every day of 1970..2030 against a running count
    local days = 0
    for y = 1970, 2030 do
      for m = 1, 12 do
        local md = ({ 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
        if m == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then md = 29 end
        for d = 1, md do
          assert(cdr.days_from_civil(y, m, d) == days, y .. "-" .. m .. "-" .. d)
          days = days + 1
        end
      end
    end
  end)

  it("skips a header row, blank lines, CRLF; accepts quoted fields and a BOM", function()
    local text = "\239\187\191id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc\r\n\r\n" .. LINE .. "\r\n" ..
      '"1002","2026-01-15 00:00:00","2026-01-15 00:15:00","8985","4540","5","86,1","45400"\r\n\r\n'
    local rows = assert(cdr.parse(text))
    assert.equal(2, #rows)
    assert.equal(3, rows[1].line)
    assert.equal("86,1", rows[2].imei)
    assert.equal(1002, rows[2].id)
  end)

  it("a malformed line fails with its line number", function()
    local cases = {
      LINE .. "\n1,2,3",
      LINE .. "\nx," .. LINE:sub(6),
      LINE .. "\n1,2026-01-15 00:00:00,bad,1,2,3,4,5",
      LINE .. "\n1,2026-01-15 00:00:00,2026-01-15 00:00:00,1,2,-3,4,5",
      LINE .. "\n1,2026-01-15 00:00:00,2026-01-15 00:00:00,,2,3,4,5",
      LINE .. '\n"1,2026-01-15 00:00:00,2026-01-15 00:00:00,1,2,3,4,5',
      LINE .. "\n" .. LINE .. ",extra",
    }
    for _, text in ipairs(cases) do
      local rows, err = cdr.parse(text)
      assert.is_nil(rows, text)
      assert.equal("decode", err.kind)
      assert.equal(2, err.line)
      assert.matches("line 2", tostring(err))
    end
  end)

  it("rows() streams a file in chunks and reports bad lines without dropping them", function()
    local parts = { "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc" }
    for i = 1, 500 do
      parts[#parts + 1] = i .. ",2026-01-15 00:00:00,2026-01-15 00:15:00,8985" .. i .. ",454,"
        .. (i * 10) .. ",861,45400"
    end
    parts[101] = "garbage"
    local path = tmpfile(table.concat(parts, "\r\n")) -- no final line end
    local n, bad, sum, last = 0, {}, 0, nil
    for row, err in cdr.rows(path, 64) do
      if row then
        n = n + 1
        sum = sum + row.data_usage
        last = row
      else
        bad[#bad + 1] = err.line
      end
    end
    os.remove(path)
    assert.equal(499, n)
    assert.same({ 101 }, bad)
    assert.equal(500, last.id)
    assert.equal(10 * (500 * 501 / 2) - 1000, sum)
  end)

  it("rows() on a missing file yields false, err once", function()
    local results = {}
    for row, err in cdr.rows("/nonexistent/cdr.csv") do results[#results + 1] = { row, err } end
    assert.equal(1, #results)
    assert.is_false(results[1][1])
    assert.matches("cannot open", results[1][2].message)
  end)

  it("rows() reports a read error instead of ending quietly (a directory)", function()
    local results = {}
    for row, err in cdr.rows("/") do results[#results + 1] = { row, err } end
    assert.equal(1, #results)
    assert.is_false(results[1][1])
    assert.equal("input", results[1][2].kind)
    assert.matches("cannot read", results[1][2].message)
  end)

  it("rows() closes the file when a loop is left early (Lua 5.4's to-be-closed for)", function()
    local path = tmpfile(string.rep("1,2026-01-01 00:00:00,2026-01-01 00:10:00,8985,4600,10,8600,46000\n", 3))
    local it, s, init, closer = cdr.rows(path)
    assert.is_function(it)
    assert.is_nil(s)
    assert.is_nil(init)
    local mt = getmetatable(closer)
    assert.is_function(mt.__close)
    assert.truthy(it())
    mt.__close(closer) -- what the generic for does when it is left
    mt.__close(closer) -- twice is harmless
    assert.is_nil(it()) -- the handle is gone: the walk ends
    if _VERSION == "Lua 5.4" then
      -- 300 early breaks with the collector stopped: only the for's close
      -- keeps the descriptors from piling up (counted in /proc/<pid>/fd)
      local sf = assert(io.open("/proc/self/stat"))
      local pid = sf:read("*l"):match("^(%d+)")
      sf:close()
      local function open_fds()
        local p = assert(io.popen("ls /proc/" .. pid .. "/fd | wc -l"))
        local n = tonumber(p:read("*a"))
        p:close()
        return n
      end
      collectgarbage("stop")
      local before = open_fds()
      local ok, err = pcall(function()
        for _ = 1, 300 do
          for row in cdr.rows(path) do -- luacheck: ignore 512 (left at its first row on purpose)
            assert(row)
            break
          end
        end
      end)
      local after = open_fds()
      collectgarbage("restart")
      assert(ok, err)
      assert.is_true(after - before < 10, before .. " -> " .. after .. " open descriptors")
    end
  end)

  it("rows() handles an empty file", function()
    local path = tmpfile("")
    local n = 0
    for _ in cdr.rows(path) do n = n + 1 end
    os.remove(path)
    assert.equal(0, n)
  end)

  it("parses file names", function()
    local f = assert(cdr.parse_filename("/upload/cdr_10001_20260115000000_20260115010000_20260115013000.csv"))
    assert.equal("10001", f.account)
    assert.equal(1768435200, f.start)
    assert.equal(1768435200 + 3600, f["end"])
    assert.equal(1768435200 + 5400, f.generated)
    assert.equal("20260115000000", f.start_text)
    local bad, err = cdr.parse_filename("cdr_10001_2026011500000_20260115010000_20260115013000.csv")
    assert.is_nil(bad)
    assert.equal("input", err.kind)
    assert.is_nil(cdr.parse_filename("cdr_10001_20261315000000_20260115010000_20260115013000.csv"))
    assert.is_nil(cdr.parse_filename("x.csv"))
  end)
end)

describe("calendar helpers (simkit.util)", function()
  local util = require "simkit.util"
  local validate = require "simkit.validate"

  it("round-trips day numbers and knows month lengths", function()
    for d = -800000, 800000, 97 do
      local y, m, dd = util.civil_from_days(d)
      assert(util.days_from_civil(y, m, dd) == d, "day " .. d)
      assert(dd >= 1 and dd <= util.days_in_month(y, m), "day " .. d)
    end
    assert.equal(0, util.days_from_civil(1970, 1, 1))
    assert.equal(11017, util.days_from_civil(2000, 3, 1))
    assert.same({ 29, 28, 29, 30 }, { util.days_in_month(2024, 2), util.days_in_month(1900, 2),
      util.days_in_month(2000, 2), util.days_in_month(2026, 11) })
    assert.is_nil(util.days_in_month(2026, 13))
  end)

  it("validates dates for real: no 29 February outside leap years, no 31 April", function()
    local op = { params = { { name = "d", type = "String", format = "yyyy-MM-dd" } } }
    assert.truthy(validate.check(op, { d = "2024-02-29" }))
    for _, bad in ipairs({ "2026-02-29", "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-32" }) do
      local ok, msg = validate.check(op, { d = bad })
      assert.is_nil(ok, bad)
      assert.matches("format", msg)
    end
  end)
end)

describe("simkit.cdr hardening (#10.7, #10.8)", function()
  local HEADER = "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc"

  local function rows_of(path, opts)
    local out = {}
    for row, err in cdr.rows(path, opts) do out[#out + 1] = row or err end
    return out
  end

  it("is the same module as simkit.eiotclub.cdr (documented alias)", function()
    assert.equal(require "simkit.eiotclub.cdr", cdr)
  end)

  it("accepts CR, LF and CRLF line ends, mixed, with a header (CR-only used to give 0 rows)", function()
    for _, nl in ipairs({ "\r", "\n", "\r\n" }) do
      local text = HEADER .. nl .. LINE .. nl .. nl .. LINE:gsub("^1001", "1002") .. nl
      local rows = assert(cdr.parse(text))
      assert.equal(2, #rows, "line end " .. nl:byte())
      assert.same({ 1001, 2 }, { rows[1].id, rows[1].line })
      assert.same({ 1002, 4 }, { rows[2].id, rows[2].line })
    end
    local mixed = assert(cdr.parse(HEADER .. "\r" .. LINE .. "\r\n" .. LINE .. "\n" .. LINE .. "\r\r" .. LINE))
    assert.same({ 2, 3, 4, 6 }, { mixed[1].line, mixed[2].line, mixed[3].line, mixed[4].line })
  end)

  it("rows() gives the same rows and errors as parse() whatever the chunk size (CRLF split across reads)", function()
    local text = "\239\187\191" .. HEADER .. "\r\n" .. LINE .. "\r" .. LINE .. "\r\n\r\nbad line\n" .. LINE ..
      "\r\n" .. '"7", 2026-01-15 00:00:00 ,2026-01-15 00:00:01,"a""b",,0,,x' .. "\r"
    local path = tmpfile(text)
    local expect = {}
    for i, line in ipairs({ 2, 3, 5, 6, 7 }) do expect[i] = line end
    for size = 1, 40 do
      local got = {}
      for _, r in ipairs(rows_of(path, { chunk_size = size })) do got[#got + 1] = r.line end
      assert.same(expect, got, "chunk_size " .. size)
    end
    os.remove(path)
    local last = assert(cdr.parse((text:gsub("bad line\n", "\n"))))
    assert.equal('a"b', last[#last].iccid)
    assert.equal(7, last[#last].id)
  end)

  it("only line 1 may be a header, and only with the right columns", function()
    local rows, err = cdr.parse(LINE .. "\n" .. HEADER .. "\n")
    assert.is_nil(rows)
    assert.same({ "decode", 2 }, { err.kind, err.line })
    assert.matches("only line 1 may be a header", err.message)
    for _, h in ipairs({ "id,start,stop", "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc,extra",
      "ID,start_time,stop_time,iccid,imsi,usage,imei,mccmnc", "id" }) do
      rows, err = cdr.parse(h .. "\n" .. LINE)
      assert.is_nil(rows, h)
      assert.same({ "decode", 1 }, { err.kind, err.line })
      assert.matches("header must be exactly", err.message)
    end
    -- the right columns in any case and with spaces: skipped
    assert.equal(1, #assert(cdr.parse(" ID , Start_Time,stop_time,ICCID,imsi,data_usage,imei,mccmnc\n" .. LINE)))
    -- a blank line 1 then a header on line 2: not a header
    assert.is_nil(cdr.parse("\n" .. HEADER .. "\n" .. LINE))
  end)

  it("trims a field of 80,000 spaces and reports a huge bad value shortened", function()
    local pad = string.rep(" ", 80000)
    local text = "1001," .. pad .. "2026-01-15 00:00:00" .. pad .. "," .. LINE:sub(26)
    local rows = assert(cdr.parse(text, { max_line = 200000 }))
    assert.equal(1768435200, rows[1].start_time)
    assert.equal("2026-01-15 00:00:00", rows[1].start_time_text)
    -- beyond the default bound it is refused, with its line number
    local _, lerr = cdr.parse(LINE .. "\n" .. text)
    assert.same({ "decode", 2 }, { lerr.kind, lerr.line })
    local _, err = cdr.parse(string.rep("7", 60000) .. LINE:sub(5))
    assert.equal(1, err.line)
    assert.matches("(60000 bytes)", err.message, 1, true)
    assert.is_true(#err.message < 200)
  end)

  it("bounds the line length: a 32 MB line is one error with its line number, then rows go on", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(HEADER, "\n", LINE, "\n1002,")
    local mb = string.rep("x", 1024 * 1024)
    for _ = 1, 32 do f:write(mb) end
    f:write("\r\n", LINE, "\r\n")
    f:close()
    local got = rows_of(path)
    assert.equal(3, #got)
    assert.equal(2, got[1].line)
    assert.same({ false, "decode", 3 }, { got[2].id ~= nil, got[2].kind, got[2].line })
    assert.matches("longer than max_line %(65536 bytes%)", got[2].message)
    assert.equal(4, got[3].line)
    -- the same with the line ending in CR (a LF may follow in the next read)
    -- and a smaller max_line
    got = rows_of(path, { max_line = 100, chunk_size = 1000 })
    assert.same({ 2, 3, 4 }, { got[1].line, got[2].line, got[3].line })
    -- a larger max_line: the line is read (and found to have 2 fields)
    got = rows_of(path, { max_line = 40 * 1024 * 1024 })
    assert.same({ 2, 3, 4 }, { got[1].line, got[2].line, got[3].line })
    assert.matches("expected 8 fields, got 2", got[2].message)
    -- parse(): the first bad line fails the whole text
    local fh = assert(io.open(path, "rb"))
    local text = fh:read("*a")
    fh:close()
    os.remove(path)
    local rows, err = cdr.parse(text)
    assert.is_nil(rows)
    assert.same({ "decode", 3 }, { err.kind, err.line })
    rows, err = cdr.parse(LINE, { max_line = 50 })
    assert.is_nil(rows)
    assert.matches("longer than max_line %(50 bytes%)", err.message)
    assert.equal(1, #assert(cdr.parse(LINE, { max_line = #LINE })))
  end)

  it("a line longer than max_line at the end of the file, with no line end", function()
    local path = tmpfile(LINE .. "\n" .. string.rep("9", 300))
    local got = rows_of(path, { max_line = 200, chunk_size = 7 })
    os.remove(path)
    assert.equal(2, #got)
    assert.same({ 1, 2 }, { got[1].line, got[2].line })
    assert.equal("decode", got[2].kind)
  end)

  it("refuses bad arguments: nil, err for data, a raise naming the option for options", function()
    for _, v in ipairs({ 42, true, {}, print }) do
      local rows, err = cdr.parse(v)
      assert.is_nil(rows)
      assert.equal("input", err.kind)
      local got = rows_of(v)
      assert.same({ "input" }, { got[1].kind })
      assert.equal(1, #got)
      local r, e = cdr.parse_line(v)
      assert.is_nil(r)
      assert.equal("input", e.kind)
      local fname, ferr = cdr.parse_filename(v)
      assert.is_nil(fname)
      assert.equal("input", ferr.kind)
      assert.is_nil(cdr.utc_epoch(v))
    end
    assert.is_nil(cdr.parse(nil))
    for _, bad in ipairs({ 0 / 0, math.huge, -math.huge, 0, -5, 1.5, 2 ^ 40, "10", true }) do
      assert.has_error(function() cdr.parse(LINE, { max_line = bad }) end)
      assert.has_error(function() cdr.rows("/dev/null", { chunk_size = bad }) end)
      assert.has_error(function() cdr.rows("/dev/null", { max_line = bad }) end)
      local r, e = cdr.parse_line(LINE, bad)
      if bad ~= 2 ^ 40 then
        assert.is_nil(r, tostring(bad))
        assert.equal("input", e.kind)
      end
    end
    local ok, msg = pcall(cdr.parse, LINE, { max_line = 0 / 0 })
    assert.is_false(ok)
    assert.matches("opts.max_line must be an integer", msg)
    assert.has_error(function() cdr.parse(LINE, "big") end)
    local r, e = cdr.parse_line(LINE .. "\n" .. LINE)
    assert.is_nil(r)
    assert.equal("input", e.kind)
    assert.equal(1001, assert(cdr.parse_line(LINE, 5)).id)
    assert.is_false(cdr.parse_line(HEADER))
    assert.is_nil(cdr.parse_line(HEADER, 2))
  end)
end)

describe("simkit.cdr.parse and the garbage collector", function()
  local text = "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc\n" .. string.rep(LINE .. "\n", 2000)

  after_each(function() collectgarbage("restart") end)

  it("leaves a running collector running, after rows and after an error", function()
    assert.is_true(collectgarbage("isrunning"))
    assert.equal(2000, #assert(cdr.parse(text)))
    assert.is_true(collectgarbage("isrunning"))
    assert.is_nil(cdr.parse(text .. "bad line\n"))
    assert.is_true(collectgarbage("isrunning"))
    assert.is_nil(cdr.parse(42))
    assert.is_true(collectgarbage("isrunning"))
  end)

  it("leaves a stopped collector stopped (it does not restart what the caller stopped)", function()
    collectgarbage("stop")
    assert.equal(2000, #assert(cdr.parse(text)))
    assert.is_false(collectgarbage("isrunning"))
    assert.is_nil(cdr.parse(text .. "bad line\n"))
    assert.is_false(collectgarbage("isrunning"))
  end)

  it("restarts the collector and passes the error on when the parse raises (out of memory)", function()
    local saved_core, saved_mod = package.loaded["simkit.core"], package.loaded["simkit.eiotclub.cdr"]
    local fake = setmetatable({ cdr_parse = function() error("not enough memory", 0) end },
      { __index = saved_core })
    package.loaded["simkit.core"], package.loaded["simkit.eiotclub.cdr"] = fake, nil
    local ok, fresh = pcall(require, "simkit.eiotclub.cdr")
    package.loaded["simkit.core"], package.loaded["simkit.eiotclub.cdr"] = saved_core, saved_mod
    assert(ok, fresh)
    local pok, perr = pcall(fresh.parse, text)
    assert.is_false(pok)
    assert.equal("not enough memory", perr)
    assert.is_true(collectgarbage("isrunning"))
  end)
end)

describe("simkit.cdr: parse and rows agree on random input", function()
  local JUNK = { ",", '"', '""', " ", "\t", "7", "2026-02-29 00:00:00", "\239\187\191", "x", string.rep("9", 150) }
  local ENDS = { "\r", "\n", "\r\n" }

  -- lines: mostly good rows, some blank, a header, some junk; any line ends
  local function random_text()
    local parts = {}
    local nlines = math.random(1, 12)
    for i = 1, nlines do
      local r = math.random()
      if r < 0.6 then parts[#parts + 1] = LINE:gsub("^1001", tostring(i))
      elseif r < 0.65 then parts[#parts + 1] = "id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc"
      elseif r < 0.8 then parts[#parts + 1] = math.random() < 0.5 and "" or "  "
      else
        for _ = 1, math.random(1, 4) do parts[#parts + 1] = JUNK[math.random(#JUNK)] end
      end
      if i < nlines or math.random() < 0.5 then parts[#parts + 1] = ENDS[math.random(#ENDS)] end
    end
    return table.concat(parts)
  end

  it("300 seeded random texts: the same rows, the same first error line, no raise", function()
    math.randomseed(20261203)
    local good, bad = 0, 0
    for round = 1, 300 do
      local text = random_text()
      local ok, rows, err = pcall(cdr.parse, text, { max_line = 200 })
      assert(ok, rows)
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(text)
      f:close()
      local got = {}
      local size = math.random(1, 64)
      for row, rerr in cdr.rows(path, { chunk_size = size, max_line = 200 }) do
        got[#got + 1] = row or rerr
      end
      os.remove(path)
      local ctx = "round " .. round .. " chunk " .. size .. ": " .. string.format("%q", text)
      if rows then
        good = good + 1
        assert(#got == #rows, ctx)
        for i, r in ipairs(rows) do assert(got[i].line == r.line and got[i].id == r.id, ctx) end
      else
        bad = bad + 1
        assert(err.kind == "decode" and err.line, ctx)
        local first_err
        for i, g in ipairs(got) do
          if g.kind then first_err = i; break end
        end
        assert(first_err, ctx)
        assert(got[first_err].line == err.line, ctx)
        for i = 1, first_err - 1 do assert(got[i].line < err.line, ctx) end
      end
    end
    assert.is_true(good > 50 and bad > 50, good .. " good, " .. bad .. " bad") -- both sides exercised
  end)
end)
