-- JSON decode/encode throughput: simkit.core against lua-cjson, same process.
--   LUA_CPATH='build/lua5.4/?.so;;' lua5.4 bench/json_bench.lua [seconds per measure]
--   LUA_CPATH='build/luajit/?.so;;' luajit bench/json_bench.lua
-- Prints ratios; there is no pass/fail.
local core = require "simkit.core"
local rate = require("bench.support").rate

local budget = tonumber(arg and arg[1]) or tonumber(os.getenv("SIMKIT_BENCH_SECONDS")) or 0.5

local has_cjson, cjson = pcall(require, "cjson")

local card_page = require("bench.support").card_page

local function compare(what, simkit_f, cjson_f)
  local a = rate(simkit_f, budget)
  if not cjson_f then
    print(string.format("%s: simkit %.1f/s  cjson n/a", what, a))
    return
  end
  local b = rate(cjson_f, budget)
  print(string.format("%s: simkit %.1f/s  cjson %.1f/s  ratio %.2fx", what, a, b, a / b))
end

local text = card_page(500)
local value = assert(core.json_decode(text))
assert(#value.data.cardInfoList == 500, "bad page")
local again = assert(core.json_encode(value))
assert(core.json_decode(again), "encode output does not decode")

print(string.format("# %s, page of %d bytes, %.2fs per measure", _VERSION .. (jit and " / " .. jit.version or ""),
  #text, budget))
if not has_cjson then
  print("# lua-cjson not available (apt-get install lua-cjson): simkit only")
  cjson = nil
end

compare("json decode 500-card page",
  function() return core.json_decode(text) end,
  cjson and function() return cjson.decode(text) end)

compare("json encode 500-card page",
  function() return core.json_encode(value) end,
  cjson and function() return cjson.encode(value) end)

-- strings with escapes and non-ASCII text
local notes = {}
for i = 1, 500 do
  notes[i] = { id = i, text = "line one\nline \"two\"\t\xE4\xB8\xAD\xE6\x96\x87 \\ caf\xC3\xA9 " .. i }
end
local notes_text = assert(core.json_encode(notes))
compare("json decode 500 escaped strings",
  function() return core.json_decode(notes_text) end,
  cjson and function() return cjson.decode(notes_text) end)
compare("json encode 500 escaped strings",
  function() return core.json_encode(notes) end,
  cjson and function() return cjson.encode(notes) end)
