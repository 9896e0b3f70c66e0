-- simkit.core JSON: strict RFC 8259 decode/encode with exact 64-bit integers.
-- Runs under Lua 5.4 (integers are int64) and LuaJIT (integers exact up to 2^53;
-- larger ones decode as their decimal text).
local core = require "simkit.core"

local decode, encode = core.json_decode, core.json_encode
local null, array_mt = core.json_null, core.json_array_mt

local has_int64 = math.type ~= nil

-- decode that must fail: returns the error message
local function decode_err(text)
  local v, err = decode(text)
  assert.is_nil(v, "decode should have failed for " .. string.format("%q", text))
  assert.is_string(err)
  return err
end

local function encode_err(value)
  local s, err = encode(value)
  assert.is_nil(s, "encode should have failed, got " .. tostring(s))
  assert.is_string(err)
  return err
end

local function nested_arrays(n)
  return string.rep("[", n) .. string.rep("]", n)
end

describe("json decode", function()
  it("exposes one null sentinel and one array metatable", function()
    assert.is_not_nil(null)
    assert.are.equal(null, core.json_null)
    assert.are.equal(null, decode("null"))
    assert.are.equal(null, decode("[null]")[1])
    assert.are.equal("table", type(array_mt))
    assert.are.equal(array_mt, core.json_array_mt)
  end)

  it("decodes literals and scalars at the top level", function()
    assert.are.equal(true, decode("true"))
    assert.are.equal(false, decode("false"))
    assert.are.equal(null, decode(" \t\r\nnull \t\r\n"))
    assert.are.equal("abc", decode('"abc"'))
    assert.are.equal("", decode('""'))
    assert.are.equal(42, decode("42"))
    assert.are.equal(-7, decode("-7"))
    assert.are.equal(0, decode("0"))
  end)

  describe("integers", function()
    it("decodes the int64 edges exactly on Lua 5.3+", function()
      if not has_int64 then return end
      local max = decode("9223372036854775807")
      assert.are.equal("integer", math.type(max))
      assert.are.equal(math.maxinteger, max)
      local min = decode("-9223372036854775808")
      assert.are.equal("integer", math.type(min))
      assert.are.equal(math.mininteger, min)
      assert.are.equal("integer", math.type(decode("1")))
      assert.are.equal("integer", math.type(decode("-0")))
      assert.are.equal(0, decode("-0"))
      -- 2^53 +- 1 are exact integers, not doubles
      assert.are.equal(9007199254740993, decode("9007199254740993"))
      assert.are.equal(9007199254740991, decode("9007199254740991"))
      assert.are.equal(-9007199254740993, decode("-9007199254740993"))
      assert.are.equal("integer", math.type(decode("9007199254740993")))
      assert.are.equal(1234567890123456789, decode("1234567890123456789"))
    end)

    it("returns integers beyond int64 as their exact text", function()
      if not has_int64 then return end
      assert.are.equal("9223372036854775808", decode("9223372036854775808"))
      assert.are.equal("-9223372036854775809", decode("-9223372036854775809"))
      assert.are.equal("18446744073709551616", decode("18446744073709551616"))
    end)

    it("keeps |n| <= 2^53 as exact numbers and larger ones as text on LuaJIT", function()
      if has_int64 then return end
      assert.are.equal("number", type(decode("9007199254740992")))
      assert.are.equal(2 ^ 53, decode("9007199254740992"))
      assert.are.equal(-(2 ^ 53), decode("-9007199254740992"))
      assert.are.equal(2 ^ 53 - 1, decode("9007199254740991"))
      assert.are.equal("9007199254740993", decode("9007199254740993"))
      assert.are.equal("-9007199254740993", decode("-9007199254740993"))
      assert.are.equal("9223372036854775807", decode("9223372036854775807"))
      assert.are.equal("-9223372036854775808", decode("-9223372036854775808"))
      assert.are.equal(0, decode("-0"))
      assert.are.equal(math.huge, 1 / decode("-0")) -- +0, not -0
    end)

    it("never rounds a 20-digit ICCID", function()
      local v = decode('{"iccid":89852012345678901234}')
      assert.are.equal("89852012345678901234", v.iccid)
      assert.are.equal("string", type(v.iccid))
    end)
  end)

  describe("floats", function()
    it("decodes fractions and exponents as doubles", function()
      assert.are.equal(0.1, decode("0.1"))
      assert.are.equal(-2.5, decode("-2.5"))
      assert.are.equal(1500, decode("1.5e3"))
      assert.are.equal(100, decode("1E2"))
      assert.are.equal(100, decode("1e+2"))
      assert.are.equal(0.01, decode("1e-2"))
      assert.are.equal(1.23456e-05, decode("123.456e-7"))
      assert.are.equal(0.1 + 0.2, decode("0.30000000000000004"))
      assert.are.equal(math.pi, decode("3.14159265358979323846264338327950288"))
      assert.are.equal(1e300, decode("1e300"))
      assert.are.equal(5e-324, decode("5e-324"))
      assert.are.equal(0, decode("1e-400"))
      assert.are.equal(1.2345678901234568e+29, decode("123456789012345678901234567890.0"))
      -- longer than any fixed buffer
      assert.are.equal(1, decode("1." .. string.rep("0", 300) .. "1"))
      assert.are.equal(1.23e302, decode("123" .. string.rep("0", 300) .. ".5"))
      assert.are.equal(1 / 3, decode("0." .. string.rep("3", 400)))
      assert.are.equal("1" .. string.rep("0", 300), decode("1" .. string.rep("0", 300)))
      if has_int64 then
        assert.are.equal("float", math.type(decode("1.0")))
        assert.are.equal("float", math.type(decode("1e2")))
        assert.are.equal("float", math.type(decode("500.0")))
      end
    end)

    it("keeps the sign of -0.0", function()
      local z = decode("-0.0")
      assert.are.equal(0, z)
      assert.are.equal(-math.huge, 1 / z)
      if has_int64 then assert.are.equal("float", math.type(z)) end
    end)

    it("refuses numbers out of the double range", function()
      assert.are.equal("json: number out of range at byte 1", decode_err("1e400"))
      assert.are.equal("json: number out of range at byte 2", decode_err("[-1e99999999999999]"))
    end)

    it("ignores LC_NUMERIC", function()
      local old = os.setlocale(nil, "numeric")
      local set
      for _, name in ipairs { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", "fr_FR" } do
        set = os.setlocale(name, "numeric")
        if set then break end
      end
      -- make test builds de_DE.UTF-8 into build/locale and sets LOCPATH
      assert.truthy(set, "no decimal-comma locale: run through make test, which builds one")
      local ok, a, b, c = pcall(function()
        return decode("1.5"), decode("0.30000000000000004"), decode("[2.25e1]")[1]
      end)
      os.setlocale(old, "numeric")
      assert.is_true(ok, a)
      assert.are.equal(1.5, a)
      assert.are.equal(0.1 + 0.2, b)
      assert.are.equal(22.5, c)
    end)
  end)

  describe("strings", function()
    it("decodes every escape", function()
      assert.are.equal('"\\/\b\f\n\r\t', decode([["\"\\\/\b\f\n\r\t"]]))
      assert.are.equal("a\0b", decode([["a\u0000b"]]))
      assert.are.equal("\31", decode([["\u001f"]]))
      assert.are.equal("\195\169", decode([["\u00e9"]]))
      assert.are.equal("\195\169", decode([["\u00E9"]]))
      assert.are.equal("\226\130\172", decode([["\u20ac"]]))
      assert.are.equal("\239\191\191", decode([["\uFFFF"]]))
      assert.are.equal("x\223\191y", decode([["x\u07FFy"]]))
    end)

    it("joins surrogate pairs into one UTF-8 character", function()
      assert.are.equal("\240\159\152\128", decode([["\uD83D\uDE00"]]))
      assert.are.equal("\240\159\152\128", decode([["\ud83d\ude00"]]))
      assert.are.equal("\240\144\128\128", decode([["\uD800\uDC00"]]))
      assert.are.equal("\244\143\191\191", decode([["\uDBFF\uDFFF"]]))
      assert.are.equal("a\240\159\152\128b\240\159\152\128", decode([["a\uD83D\uDE00b\uD83D\uDE00"]]))
    end)

    it("passes valid raw UTF-8 and DEL through", function()
      local s = "h\195\169llo \228\184\173\230\150\135 \240\159\152\128 \127 /"
      assert.are.equal(s, decode('"' .. s .. '"'))
      assert.are.equal(s .. "\n", decode('"' .. s .. '\\n"'))
    end)

    it("decodes long strings with and without escapes", function()
      local long = string.rep("abcdefghij", 10000)
      assert.are.equal(long, decode('"' .. long .. '"'))
      local esc = string.rep("ab\\ncd\\u00e9", 5000)
      assert.are.equal(string.rep("ab\ncd\195\169", 5000), decode('"' .. esc .. '"'))
    end)
  end)

  describe("structures", function()
    it("marks arrays with the array metatable and leaves objects bare", function()
      local v = decode('{"a":[1,2,{"b":[]}],"o":{}}')
      assert.are.equal(array_mt, getmetatable(v.a))
      assert.are.equal(array_mt, getmetatable(v.a[3].b))
      assert.is_nil(getmetatable(v))
      assert.is_nil(getmetatable(v.o))
      assert.is_nil(getmetatable(v.a[3]))
      assert.are.equal(0, #v.a[3].b)
      assert.is_nil(next(v.o))
    end)

    it("keeps nulls in arrays so the length holds", function()
      local v = decode("[1,null,3,null]")
      assert.are.equal(4, #v)
      assert.are.equal(null, v[2])
      assert.are.equal(null, v[4])
      assert.are.equal(3, v[3])
      local o = decode('{"a":null}')
      assert.are.equal(null, o.a)
    end)

    it("lets the last duplicate key win", function()
      local v = decode('{"a":1,"b":2,"a":3}')
      assert.are.equal(3, v.a)
      assert.are.equal(2, v.b)
    end)

    it("accepts whitespace between every token", function()
      local v = decode(' \n{ "a" : [ 1 , true , false , null , "x" ] , "b" : { } } \r\n\t')
      assert.are.same({ 1, true, false, null, "x" }, v.a)
      assert.are.same({}, v.b)
    end)

    it("decodes arrays and objects of every size around the decoder's batch", function()
      -- members are held on the stack before the table is made (32 at a
      -- time): sizes across that edge, duplicates on both sides of it, nesting
      for n = 0, 100 do
        local items, members = {}, {}
        for i = 1, n do
          items[i] = tostring(i * 7)
          members[i] = string.format('"k%d":%d', i, i)
        end
        if n > 0 then members[#members + 1] = '"k1":"last"' end -- a duplicate after the batch edge
        if n > 40 then members[#members + 1] = '"k40":[' .. table.concat(items, ",") .. "]" end
        local a = decode("[" .. table.concat(items, ",") .. "]")
        assert.are.equal(n, #a)
        assert.are.equal(array_mt, getmetatable(a))
        for i = 1, n do assert.are.equal(i * 7, a[i]) end
        local o = decode("{" .. table.concat(members, ",") .. "}")
        local count = 0
        for _ in pairs(o) do count = count + 1 end
        assert.are.equal(n, count)
        if n > 0 then assert.are.equal("last", o.k1) end
        for i = 2, n do
          if i == 40 and n > 40 then assert.are.equal(n, #o.k40) else assert.are.equal(i, o["k" .. i]) end
        end
      end
    end)

    it("decodes deep nesting of wide arrays and objects (the stack limit holds)", function()
      local wide = {}
      for i = 1, 40 do wide[i] = tostring(i) end
      local row = table.concat(wide, ",")
      local text = string.rep('{"a":[' .. row .. ',', 400) .. "0" .. string.rep("]}", 400)
      local v = assert(decode(text))
      local depth = 0
      while type(v) == "table" and v.a do
        assert.are.equal(41, #v.a)
        v = v.a[41]
        depth = depth + 1
      end
      assert.are.equal(400, depth)
      assert.are.equal(0, v)
      -- members held at every level before the nested one: ~62 stack slots
      -- per level, near LuaJIT's stack limit at the deepest nesting allowed
      local m = {}
      for i = 1, 31 do m[i] = '"m' .. i .. '":' .. i end
      local head = "{" .. table.concat(m, ",") .. ',"z":'
      local deep = string.rep(head, 990) .. "true" .. string.rep("}", 990)
      v = assert(decode(deep))
      depth = 0
      while type(v) == "table" do
        assert.are.equal(31, v.m31)
        v = v.z
        depth = depth + 1
      end
      assert.are.equal(990, depth)
      assert.is_true(v)
    end)

    it("keeps numeric-looking object keys as strings", function()
      local v = decode('{"1":"a","2":"b"}')
      assert.are.equal("a", v["1"])
      assert.is_nil(v[1])
    end)
  end)

  describe("object keys (each state caches the keys it decoded)", function()
    -- The cache's strings: the one table among json_decode's upvalues that is
    -- not the array metatable (slot i holds the key last cached there).
    local function key_cache()
      for i = 1, 10 do
        local name, v = debug.getupvalue(decode, i)
        if name == nil then break end
        if type(v) == "table" and v ~= array_mt then return v end
      end
      error("json_decode has no key cache table among its upvalues")
    end

    local function quote(k) return assert(encode(k)) end

    -- {"k1":1,"k2":2,...} from the keys in order
    local function object_text(keys)
      local parts = {}
      for i, k in ipairs(keys) do parts[i] = quote(k) .. ":" .. i end
      return "{" .. table.concat(parts, ",") .. "}"
    end

    -- the one key of a decoded one-member object
    local function only_key(text)
      local t = assert(decode(text))
      local k = next(t)
      assert.is_nil(next(t, k), "one member expected in " .. text)
      return k
    end

    -- decode(object_text(keys)) has exactly these keys with their positions
    -- (the last of duplicates wins)
    local function check_object(keys)
      local want, n = {}, 0
      for i, k in ipairs(keys) do
        if want[k] == nil then n = n + 1 end
        want[k] = i
      end
      local t = assert(decode(object_text(keys)))
      local count = 0
      for k, v in pairs(t) do
        count = count + 1
        assert.are.equal(want[k], v, "key " .. string.format("%q", tostring(k)))
      end
      assert.are.equal(n, count)
    end

    -- the base key of length n and its variants that differ from it (and
    -- from each other) in one byte, at every position
    local function one_byte_variants(n)
      local alphabet = "abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
      local b = {}
      for i = 1, n do
        local j = (i * 7) % #alphabet + 1
        b[i] = alphabet:sub(j, j)
      end
      local base = table.concat(b)
      local keys = { base }
      for pos = 1, n do
        for _, c in ipairs({ "-", "~", "." }) do
          keys[#keys + 1] = base:sub(1, pos - 1) .. c .. base:sub(pos + 1)
        end
      end
      return keys
    end

    it("returns every key exactly: one-byte variants of every length 0..45, in one object and across calls", function()
      for n = 0, 45 do
        local keys = one_byte_variants(n)
        for _ = 1, 2 do -- the second time from a warm cache
          check_object(keys)
          for i = #keys, 1, -1 do
            assert.are.equal(keys[i], only_key("{" .. quote(keys[i]) .. ":0}"))
            assert.are.equal(keys[1], only_key("{" .. quote(keys[1]) .. ":0}"))
          end
        end
      end
    end)

    it("gives a slot to the key decoded last: keys sharing a slot replace each other, the cache stays bounded", function()
      local cache = key_cache()
      local keys = {}
      for n = 1, 40 do
        for _, k in ipairs(one_byte_variants(n)) do keys[#keys + 1] = k end
      end
      -- short keys, every byte varying (up to 3) or the first and the last:
      -- many of one length share a slot
      local chars = "abcdefghijkl"
      for i = 1, #chars do
        local a = chars:sub(i, i)
        keys[#keys + 1] = a
        for j = 1, #chars do
          local b = chars:sub(j, j)
          keys[#keys + 1] = a .. b
          for k = 1, #chars do keys[#keys + 1] = a .. b .. chars:sub(k, k) end
          for n = 4, 9 do keys[#keys + 1] = a .. string.rep("m", n - 2) .. b end
        end
      end
      local slot_keys, placed = {}, 0
      for _, k in ipairs(keys) do
        assert.are.equal(k, only_key("{" .. quote(k) .. ":0}"))
        local slot
        for i, s in pairs(cache) do
          if s == k then slot = i end
        end
        assert.is_number(slot, "a key of at most 40 bytes is cached: " .. k)
        slot_keys[slot] = slot_keys[slot] or {}
        table.insert(slot_keys[slot], k)
        placed = placed + 1
      end
      -- pairs of keys of one length, < 4, < 8 and more bytes, that share a slot and
      -- differ after their first byte
      local slots, alike = 0, { 0, 0, 0 }
      for _, ks in pairs(slot_keys) do
        slots = slots + 1
        -- every two keys of this slot, alternately, alone and together
        for i = 1, #ks do
          for j = i + 1, math.min(#ks, i + 3) do
            local a, b = ks[i], ks[j]
            if #a == #b then
              if a:byte(1) == b:byte(1) then
                local c = #a < 4 and 1 or #a < 8 and 2 or 3
                alike[c] = alike[c] + 1
              end
              for _ = 1, 2 do
                assert.are.equal(a, only_key("{" .. quote(a) .. ":0}"))
                assert.are.equal(b, only_key("{" .. quote(b) .. ":0}"))
              end
              check_object({ a, b, a })
            end
          end
        end
      end
      -- bounded: a string per slot, JSON_KEYCACHE (512) slots in src/json.c
      local cached = 0
      for i, s in pairs(cache) do
        cached = cached + 1
        assert.is_true(math.type == nil or math.type(i) == "integer")
        assert.is_true(i >= 1 and i <= 512 and type(s) == "string")
      end
      assert.is_true(placed > 4000 and slots < placed, "keys " .. placed .. " share " .. slots .. " slots")
      assert.is_true(cached >= slots and cached <= 512)
      for c = 1, 3 do
        assert.is_true(alike[c] > 0, "keys alike shared a slot: " .. table.concat(alike, " "))
      end
    end)

    it("decodes keys with escapes, longer than 40 bytes, with UTF-8 or empty exactly, beside cached ones", function()
      assert.are.equal("ab", only_key('{"ab":1}'))
      assert.are.equal("ab", only_key('{"a\\u0062":1}'))
      assert.are.equal("ab", only_key('{"ab":1}'))
      assert.are.same({ ab = 2 }, decode('{"ab":1,"a\\u0062":2}'))
      assert.are.same({ ab = 2 }, decode('{"a\\u0062":1,"ab":2}'))
      assert.are.equal('a"b', only_key('{"a\\"b":1}'))
      assert.are.equal("a\\b", only_key('{"a\\\\b":1}'))
      assert.are.equal("a\\u0062", only_key('{"a\\\\u0062":1}'))
      assert.are.equal("a\0b", only_key('{"a\\u0000b":1}'))
      local k40, k41, k80 = string.rep("k", 40), string.rep("k", 41), string.rep("k", 80)
      for _ = 1, 3 do
        for _, k in ipairs({ k40, k41, k80, k40 .. "x", "x" .. k40, "", "k", "kk" }) do
          assert.are.equal(k, only_key("{" .. quote(k) .. ":0}"))
        end
      end
      check_object({ k40, k41, k80, "", "k", k40 })
      local utf8 = { "\195\169", "\195\168", "cl\195\169", "\228\184\173\229\155\189", "\240\159\152\128",
        "\240\159\152\129", string.rep("\228\184\173", 13), string.rep("\228\184\173", 14) }
      for _ = 1, 2 do
        for _, k in ipairs(utf8) do
          assert.are.equal(k, only_key("{" .. quote(k) .. ":0}"))
        end
        check_object(utf8)
      end
    end)

    it("predicts each key from the one before it only when the bytes and the closing quote match", function()
      local shape = '{"alpha":1,"beta":2,"gamma":3}'
      local function learn()
        for _ = 1, 2 do assert.are.same({ alpha = 1, beta = 2, gamma = 3 }, decode(shape)) end
      end
      local cases = {
        { '{"alpha":1,"bet":2,"gamma":3}', { alpha = 1, bet = 2, gamma = 3 } },
        { '{"alpha":1,"betas":2,"gamma":3}', { alpha = 1, betas = 2, gamma = 3 } },
        { '{"alpha":1,"beta\\u0073":2}', { alpha = 1, betas = 2 } },
        { '{"alpha":1,"beta\\"":2}', { alpha = 1, ['beta"'] = 2 } },
        { '{"alpha":1,"beta\\\\":2}', { alpha = 1, ["beta\\"] = 2 } },
        { '{"alpha":1,"beta\\/":2}', { alpha = 1, ["beta/"] = 2 } },
        { '{"alpha":1,"b\\u0065ta":2}', { alpha = 1, beta = 2 } },
        { '{"alpha":1,"b\195\169ta":2}', { alpha = 1, ["b\195\169ta"] = 2 } },
        { '{"alpha":1,"":2,"beta":3}', { alpha = 1, [""] = 2, beta = 3 } },
        { '{"beta":1,"alpha":2,"gamma":3}', { beta = 1, alpha = 2, gamma = 3 } },
        { '{"alpha":1,"alpha":2,"beta":3}', { alpha = 2, beta = 3 } },
        { '{"alpha":{"alpha":1,"beta":2},"beta":{"gamma":3}}', { alpha = { alpha = 1, beta = 2 }, beta = { gamma = 3 } } },
        { '{"alphabet":1,"beta":2}', { alphabet = 1, beta = 2 } },
        { '{"alph":1,"beta":2}', { alph = 1, beta = 2 } },
      }
      for _, c in ipairs(cases) do
        learn()
        assert.are.same(c[2], decode(c[1]), c[1])
        assert.are.same(c[2], decode(c[1]), c[1]) -- now learnt in turn
      end
      local errs = {
        { '{"alpha":1,"beta', "json: unterminated string at byte 12" },
        { '{"alpha":1,"bet', "json: unterminated string at byte 12" },
        { '{"alpha":1,"beta"', "json: unexpected end of input at byte 18" },
        { '{"alpha":1,"beta"}', "json: unexpected character '}' at byte 18" },
        { '{"alpha":1,"beta\1":2}', "json: unescaped control character 0x01 in string at byte 17" },
        { '{"alpha":1,"beta\255":2}', "json: invalid UTF-8 in string at byte 17" },
        { '{"alpha":1,"beta\\x":2}', "json: invalid escape '\\x' in string at byte 17" },
        { '{"alpha":1,beta:2}', "json: unexpected character 'b' at byte 12" },
      }
      for _, c in ipairs(errs) do
        learn()
        assert.are.equal(c[2], decode_err(c[1]))
        decode_err(c[1] .. "\0")
      end
    end)

    it("is left consistent by a decode that fails mid-way", function()
      local keys = { "alpha", "beta", "gamma", "delta" }
      check_object(keys)
      local errs = {
        '{"alpha":1,"beta":2,"gamma":',
        '{"alpha":1,"beta":2,"gamma":}',
        '{"alpha":1,"bet',
        '{"alpha":1,"be\255ta":2}',
        '{"alpha":1,"be\1ta":2}',
        '{"alpha":1,"be\\qta":2}',
        '{"alpha":1,"beta"',
        '{"alpha":1,"beta" 2}',
        '[{"alpha":1},{"beta":2,"gamma":3},{"delta":4,',
      }
      for _, text in ipairs(errs) do
        decode_err(text)
        check_object(keys)
        assert.are.equal("bet", only_key('{"bet":0}'))
        assert.are.equal("be", only_key('{"be":0}'))
        check_object(keys)
      end
    end)

    it("decodes the same tables as with no cache (every key escaped, so none is cached)", function()
      local seed = 4242
      local function rand(n) -- Park-Miller: exact on every VM
        seed = seed * 16807 % 2147483647
        return seed % n + 1
      end
      -- a pool larger than the cache, of keys much alike
      local pool = {}
      for n = 1, 44, 3 do
        for _, k in ipairs(one_byte_variants(n)) do pool[#pool + 1] = k end
      end
      pool[#pool + 1] = "cl\195\169"
      pool[#pool + 1] = "\228\184\173\229\155\189"
      assert.is_true(#pool > 600)
      local function escaped(k) -- the first character as a \u escape
        local c = k:byte(1)
        if c < 0x80 then return string.format('"\\u%04x', c) .. quote(k):sub(3) end
        if k == "cl\195\169" then return '"\\u0063l\195\169"' end
        return '"\\u4e2d\229\155\189"'
      end
      local function gen(depth)
        local r = rand(depth > 0 and 8 or 5)
        if r == 1 then return tostring(rand(1000) - 500) end
        if r == 2 then return quote(pool[rand(#pool)]) end
        if r == 3 then return "null" end
        if r <= 5 then return rand(2) == 1 and "true" or "1.5" end
        if r == 6 then
          local items = { array = true }
          for i = 1, rand(4) - 1 do items[i] = gen(depth - 1) end
          return items
        end
        local members = {}
        for i = 1, rand(24) - 1 do members[i] = { pool[rand(#pool)], gen(depth - 1) } end
        return members
      end
      -- the same random document twice: keys plain, and keys escaped
      local function render(v, esc)
        if type(v) == "string" then return v end
        local parts = {}
        for i, m in ipairs(v) do
          if v.array then
            parts[i] = render(m, esc)
          else
            parts[i] = (esc and escaped(m[1]) or quote(m[1])) .. ":" .. render(m[2], esc)
          end
        end
        if v.array then return "[" .. table.concat(parts, ",") .. "]" end
        return "{" .. table.concat(parts, ",") .. "}"
      end
      local function same(a, b)
        if type(a) ~= "table" or type(b) ~= "table" then return a == b end
        if getmetatable(a) ~= getmetatable(b) then return false end
        for k, v in pairs(a) do
          if not same(v, rawget(b, k)) then return false end
        end
        for k in pairs(b) do
          if rawget(a, k) == nil then return false end
        end
        return true
      end
      for _ = 1, 150 do
        local doc = gen(3)
        if type(doc) == "string" or doc.array then doc = { { pool[rand(#pool)], doc } } end
        local plain, esc = render(doc, false), render(doc, true)
        local a, b = assert(decode(plain)), assert(decode(esc))
        assert.is_true(same(a, b), plain)
        assert.is_true(same(a, assert(decode(plain))), plain)
      end
    end)
  end)

  describe("string scan (eight bytes at a time)", function()
    it("finds the first quote, backslash, control or non-ASCII byte at every offset", function()
      for n = 0, 40 do
        for at = 1, n + 1 do
          local head, tail = string.rep("a", at - 1), string.rep("b", n - at + 1)
          assert.are.equal(head .. tail, decode('"' .. head .. tail .. '"'))
          assert.are.equal(head .. "\n" .. tail, decode('"' .. head .. "\\n" .. tail .. '"'))
          assert.are.equal(head .. '"' .. tail, decode('"' .. head .. '\\"' .. tail .. '"'))
          assert.are.equal(head .. "\195\169" .. tail, decode('"' .. head .. "\195\169" .. tail .. '"'))
          assert.are.equal(head .. "\127" .. tail, decode('"' .. head .. "\127" .. tail .. '"'))
          assert.are.equal(string.format("json: unescaped control character 0x1F in string at byte %d", at + 1),
            decode_err('"' .. head .. "\31" .. tail .. '"'))
          assert.are.equal(string.format("json: invalid UTF-8 in string at byte %d", at + 1),
            decode_err('"' .. head .. "\255" .. tail .. '"'))
          assert.are.equal(string.format("json: unescaped control character 0x00 in string at byte %d", at + 1),
            decode_err('"' .. head .. "\0" .. tail .. '"'))
        end
        -- unterminated, the text ending at every offset of a word
        assert.are.equal("json: unterminated string at byte 1", decode_err('"' .. string.rep("a", n)))
        assert.are.equal("json: unterminated string at byte 2", decode_err('{"' .. string.rep("a", n)))
      end
    end)

    it("refuses every cut of a document, the end of the text never read past", function()
      local text = '{"a":[1,-2.5e3,"x\\u00e9",null,true,false,{"bb":{}}],"c":"\195\169","dd":12}'
      for cut = 0, #text - 1 do
        local prefix = text:sub(1, cut)
        local err = decode_err(prefix)
        local at = tonumber(err:match("at byte (%d+)$"))
        assert.is_true(at >= 1 and at <= cut + 1, err)
        decode_err(prefix .. "\0")
      end
      for _, lit in ipairs({ "true", "false", "null" }) do
        for cut = 1, #lit - 1 do
          assert.are.equal(string.format("json: unexpected end of input at byte %d", cut + 1),
            decode_err(lit:sub(1, cut)))
          assert.are.equal(string.format("json: unexpected byte 0x00 at byte %d", cut + 1),
            decode_err(lit:sub(1, cut) .. "\0" .. lit:sub(cut + 2)))
        end
        assert.are.equal(lit == "null" and null or lit == "true", decode(lit))
        assert.are.equal(string.format("json: unexpected character 'x' at byte %d", #lit),
          decode_err(lit:sub(1, -2) .. "x"))
      end
    end)
  end)

  describe("depth", function()
    it("accepts 1000 nested arrays and objects", function()
      local v = decode(nested_arrays(1000))
      local d = 0
      while v[1] do v = v[1]; d = d + 1 end
      assert.are.equal(999, d)
      assert.is_table(decode(nested_arrays(999)))
      local o = decode(string.rep('{"a":', 1000) .. "1" .. string.rep("}", 1000))
      assert.is_table(o)
    end)

    it("refuses 1001 levels with the byte offset", function()
      assert.are.equal("json: nesting too deep at byte 1001",
        decode_err(nested_arrays(1001)))
      assert.are.equal("json: nesting too deep at byte 5001",
        decode_err(string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001)))
    end)

    it("refuses 100000 levels without crashing", function()
      local err = decode_err(string.rep("[", 100000))
      assert.matches("too deep at byte 1001$", err)
      err = decode_err(string.rep('[{"a":', 50000))
      assert.matches("too deep", err)
    end)
  end)

  describe("malformed input", function()
    local cases = {
      -- input, exact message
      { "", "json: unexpected end of input at byte 1" },
      { "   ", "json: unexpected end of input at byte 4" },
      { "01", "json: invalid number (leading zero) at byte 1" },
      { "[1,00]", "json: invalid number (leading zero) at byte 4" },
      { "-012", "json: invalid number (leading zero) at byte 2" },
      { "+1", "json: unexpected character '+' at byte 1" },
      { ".5", "json: unexpected character '.' at byte 1" },
      { "1.", "json: invalid number (digit expected after '.') at byte 3" },
      { "1.e5", "json: invalid number (digit expected after '.') at byte 3" },
      { "1e", "json: invalid number (digit expected in exponent) at byte 3" },
      { "1e+", "json: invalid number (digit expected in exponent) at byte 4" },
      { "[1E-x]", "json: invalid number (digit expected in exponent) at byte 5" },
      { "-", "json: invalid number (digit expected after '-') at byte 2" },
      { "-Infinity", "json: invalid number (digit expected after '-', found 'I') at byte 2" },
      { "NaN", "json: unexpected character 'N' at byte 1" },
      { "Infinity", "json: unexpected character 'I' at byte 1" },
      { "[nan]", "json: unexpected character 'a' at byte 3" },
      { "0x10", "json: unexpected character 'x' after the value at byte 2" },
      { "tru", "json: unexpected end of input at byte 4" },
      { "trUe", "json: unexpected character 'U' at byte 3" },
      { "nul", "json: unexpected end of input at byte 4" },
      { "True", "json: unexpected character 'T' at byte 1" },
      { "[1,]", "json: unexpected character ']' at byte 4" },
      { "[,1]", "json: unexpected character ',' at byte 2" },
      { "[1 2]", "json: unexpected character '2' at byte 4" },
      { "[1", "json: unexpected end of input at byte 3" },
      { "[", "json: unexpected end of input at byte 2" },
      { "]", "json: unexpected character ']' at byte 1" },
      { '{"a":1,}', "json: unexpected character '}' at byte 8" },
      { "{1:2}", "json: unexpected character '1' at byte 2" },
      { "{'a':1}", "json: unexpected character ''' at byte 2" },
      { '{"a" 1}', "json: unexpected character '1' at byte 6" },
      { '{"a":}', "json: unexpected character '}' at byte 6" },
      { '{"a":1', "json: unexpected end of input at byte 7" },
      { '{"a":1 "b":2}', "json: unexpected character '\"' at byte 8" },
      { "[1] x", "json: unexpected character 'x' after the value at byte 5" },
      { "1 2", "json: unexpected character '2' after the value at byte 3" },
      { "{}{}", "json: unexpected character '{' after the value at byte 3" },
      { "[1]\0", "json: unexpected byte 0x00 after the value at byte 4" },
      { "\239\187\1911", "json: unexpected byte 0xEF at byte 1" },
      { "[\1]", "json: unexpected byte 0x01 at byte 2" },
      { '"abc', "json: unterminated string at byte 1" },
      { '["abc\\"]', "json: unterminated string at byte 2" },
      { '"ab\\', "json: unterminated string at byte 1" },
      { '"a\nb"', "json: unescaped control character 0x0A in string at byte 3" },
      { '"a\tb"', "json: unescaped control character 0x09 in string at byte 3" },
      { '"\\n\0"', "json: unescaped control character 0x00 in string at byte 4" },
      { '"a\\qb"', "json: invalid escape '\\q' in string at byte 3" },
      { '"\\x41"', "json: invalid escape '\\x' in string at byte 2" },
      { '"\\U00e9"', "json: invalid escape '\\U' in string at byte 2" },
      { '"\\\1"', "json: invalid escape (backslash before byte 0x01) in string at byte 2" },
      { '"\\u12"', "json: invalid \\u escape (four hex digits expected) at byte 2" },
      { '"\\u12G4"', "json: invalid \\u escape (four hex digits expected) at byte 2" },
      { '"ab\\uD800"', "json: lone high surrogate \\uD800 at byte 4" },
      { '"\\uD83Dx"', "json: lone high surrogate \\uD83D at byte 2" },
      { '"\\uD83D\\u0041"', "json: lone high surrogate \\uD83D at byte 2" },
      { '"\\uD83D\\uD83D"', "json: lone high surrogate \\uD83D at byte 2" },
      { '"\\uDE00"', "json: lone low surrogate \\uDE00 at byte 2" },
      { '"\\uDE00\\uD83D"', "json: lone low surrogate \\uDE00 at byte 2" },
      { '"\195"', "json: invalid UTF-8 in string at byte 2" },         -- truncated
      { '"ab\228\184"', "json: invalid UTF-8 in string at byte 4" },   -- truncated
      { '"\240\159\152"', "json: invalid UTF-8 in string at byte 2" }, -- truncated
      { '"\128"', "json: invalid UTF-8 in string at byte 2" },         -- lone continuation
      { '"\192\128"', "json: invalid UTF-8 in string at byte 2" },     -- overlong NUL
      { '"\193\191"', "json: invalid UTF-8 in string at byte 2" },     -- overlong
      { '"\224\159\191"', "json: invalid UTF-8 in string at byte 2" }, -- overlong 3-byte
      { '"\240\143\191\191"', "json: invalid UTF-8 in string at byte 2" }, -- overlong 4-byte
      { '"\237\160\128"', "json: invalid UTF-8 in string at byte 2" }, -- U+D800 as UTF-8
      { '"\237\191\191"', "json: invalid UTF-8 in string at byte 2" }, -- U+DFFF as UTF-8
      { '"\244\144\128\128"', "json: invalid UTF-8 in string at byte 2" }, -- > U+10FFFF
      { '"\245\128\128\128"', "json: invalid UTF-8 in string at byte 2" },
      { '"\255"', "json: invalid UTF-8 in string at byte 2" },
      { '"\\n\254"', "json: invalid UTF-8 in string at byte 4" },      -- slow path too
      { '{"k\195":1}', "json: invalid UTF-8 in string at byte 4" },    -- in a key
    }
    for _, c in ipairs(cases) do
      it(string.format("refuses %q", c[1]), function()
        assert.are.equal(c[2], decode_err(c[1]))
      end)
    end

    it("raises only for a non-string argument (a programming error)", function()
      assert.is_false(pcall(decode, {}))
      assert.is_false(pcall(decode))
    end)

    it("never raises on random or mutated input", function()
      local alphabet = { "[", "]", "{", "}", ",", ":", '"', "\\", "u", "0", "1", "9", "-", "+",
        ".", "e", "E", "t", "r", "n", "l", "f", " ", "\n", "\0", "\1", "\195", "\169", "\237",
        "\240", "\159", "a", "D", "8", "true", "null", '"a"', "1.5", "[1,", '{"x":' }
      local valid = '{"a":[1,-2.5e3,"x\\u00e9\\n",null,true,{"b":{}}],"c":"\195\169"}'
      local seed = 12345
      local function rand(n) -- Park-Miller: exact on every VM
        seed = seed * 16807 % 2147483647
        return seed % n + 1
      end
      local counts = { ok = 0, err = 0 }
      local function check(text)
        local ok, v, err = pcall(decode, text)
        assert.is_true(ok, text)
        if v == nil then
          assert.is_string(err)
          assert.matches("^json: .* at byte %d+$", err)
          counts.err = counts.err + 1
        else
          assert.is_nil(err)
          counts.ok = counts.ok + 1
        end
      end
      for _ = 1, 2000 do
        local parts = {}
        for i = 1, rand(24) do parts[i] = alphabet[rand(#alphabet)] end
        check(table.concat(parts))
      end
      for _ = 1, 2000 do
        local text = valid
        for _ = 1, rand(3) do
          local at, op = rand(#text), rand(3)
          local ins = alphabet[rand(#alphabet)]
          if op == 1 then
            text = text:sub(1, at - 1) .. text:sub(at + 1)
          elseif op == 2 then
            text = text:sub(1, at - 1) .. ins .. text:sub(at)
          else
            text = text:sub(1, at - 1) .. ins .. text:sub(at + 1)
          end
        end
        check(text)
      end
      assert.is_true(counts.ok > 50, "valid inputs: " .. counts.ok)
      assert.is_true(counts.err > 1000, "invalid inputs: " .. counts.err)
    end)
  end)
end)

describe("json encode", function()
  it("encodes scalars", function()
    assert.are.equal("true", encode(true))
    assert.are.equal("false", encode(false))
    assert.are.equal("null", encode(null))
    assert.are.equal("null", encode(nil))
    assert.are.equal('"abc"', encode("abc"))
    assert.are.equal('""', encode(""))
  end)

  it("encodes numbers with the shared number formatter", function()
    assert.are.equal("500", encode(500.0))
    assert.are.equal("0.1", encode(0.1))
    assert.are.equal("1", encode(1))
    assert.are.equal("-42", encode(-42))
    assert.are.equal("0", encode(0))
    assert.are.equal("1.5", encode(1.5))
    assert.are.equal("9007199254740992", encode(2 ^ 53))
    assert.are.equal(0.1 + 0.2, decode(encode(0.1 + 0.2)))
    assert.are.equal(1e300, decode(encode(1e300)))
    assert.are.equal(math.pi, decode(encode(math.pi)))
    if has_int64 then
      assert.are.equal("9223372036854775807", encode(math.maxinteger))
      assert.are.equal("-9223372036854775808", encode(math.mininteger))
      assert.are.equal("9007199254740993", encode(9007199254740993))
    end
  end)

  it("escapes what JSON requires and nothing more", function()
    assert.are.equal([["\"\\/\b\f\n\r\t"]], encode('"\\/\b\f\n\r\t'))
    assert.are.equal([["\u0000\u0001\u001f\u000b"]], encode("\0\1\31\11"))
    local raw = "\127 h\195\169 \228\184\173 \240\159\152\128"
    assert.are.equal('"' .. raw .. '"', encode(raw))
    assert.are.equal('"a/b"', encode("a/b"))
    local long = string.rep('x"\n\1', 3000)
    assert.are.equal(long, decode(encode(long)))
  end)

  it("sorts object keys bytewise", function()
    assert.are.equal('{"A":0,"B":1,"a":2,"aa":3,"ab":4,"b":5}',
      encode { b = 5, ab = 4, aa = 3, a = 2, B = 1, A = 0 })
    assert.are.equal('{"Z":1,"a":2,"\195\169":3,"\228\184\173":4}',
      encode { ["\228\184\173"] = 4, ["\195\169"] = 3, a = 2, Z = 1 })
    assert.are.equal('{"":1,"a":2,"a\\u0000":3}', encode { ["a\0"] = 3, [""] = 1, a = 2 })
  end)

  it("sorts objects with many keys", function()
    for _, n in ipairs { 63, 64, 65, 300 } do
      local t, want = {}, {}
      for i = n, 1, -1 do t[string.format("k%03d", i)] = i end
      for i = 1, n do want[i] = string.format('"k%03d":%d', i, i) end
      assert.are.equal("{" .. table.concat(want, ",") .. "}", encode(t))
    end
  end)

  it("is deterministic", function()
    local t = {}
    for i = 1, 50 do t["key" .. (i * 7919 % 101)] = { i, tostring(i) } end
    local a = encode(t)
    for _ = 1, 5 do assert.are.equal(a, encode(decode(a))) end
  end)

  it("tells an empty array from an empty object", function()
    assert.are.equal("{}", encode({}))
    assert.are.equal("[]", encode(setmetatable({}, array_mt)))
    assert.are.equal("[]", encode(decode("[]")))
    assert.are.equal("{}", encode(decode("{}")))
    assert.are.equal('{"a":[],"b":{}}', encode(decode('{"a":[],"b":{}}')))
    assert.are.equal("[1,2]", encode(setmetatable({ 1, 2 }, array_mt)))
  end)

  it("encodes sequences as arrays and keeps nulls", function()
    assert.are.equal("[1,2,3]", encode { 1, 2, 3 })
    assert.are.equal('[1,null,"x",true]', encode { 1, null, "x", true })
    assert.are.equal("[[],{},[[1]]]", encode { setmetatable({}, array_mt), {}, { { 1 } } })
  end)

  it("round-trips documents", function()
    local docs = {
      '{"code":"200","data":{"list":[{"flow":12.5,"iccid":"89852012345678901234",' ..
        '"id":9007199254740991,"left":null,"tags":[],"x":{}}],"total":1},"message":"ok"}',
      '[true,false,null,0,-1,0.5,-0.25,1e+100,"\\u0000\\"\\\\"]',
      '"\240\159\152\128"',
      "[[[[[[[[[[]]]]]]]]]]",
    }
    for _, text in ipairs(docs) do
      local v = assert(decode(text))
      assert.are.equal(text, encode(v))
    end
  end)

  it("round-trips 64-bit integers", function()
    local text = "[9223372036854775807,-9223372036854775808,1234567890123456789,9007199254740993]"
    if has_int64 then
      assert.are.equal(text, encode(decode(text)))
    else
      -- LuaJIT: beyond 2^53 they come back as strings, and encode as strings
      assert.are.equal('["9223372036854775807","-9223372036854775808","1234567890123456789",' ..
        '"9007199254740993"]', encode(decode(text)))
    end
    assert.are.equal('["89852012345678901234"]', encode(decode("[89852012345678901234]")))
  end)

  it("encodes 1000 nested tables and refuses 1001", function()
    local t = {}
    for _ = 2, 1000 do t = { t } end
    assert.are.equal(string.rep("[", 999) .. "{}" .. string.rep("]", 999), encode(t))
    local err = encode_err({ t })
    assert.matches("^json: cannot encode table nested more than 1000 levels deep", err)
  end)

  it("encodes 1000 levels of wide objects", function()
    -- every level holds some of its keys on the Lua stack: LuaJIT allows a C
    -- function 8000 slots
    for _, width in ipairs { 3, 20, 70 } do
      local t = {}
      for _ = 2, 1000 do
        local o = { child = t }
        for k = 1, width do o["k" .. k] = k end
        t = o
      end
      local s, err = encode(t)
      assert.is_nil(err)
      assert.are.equal(s, encode(assert(decode(s))))
      assert.is_nil(decode(s).child.child.k0)
      assert.are.equal(width, decode(s).child.child["k" .. width])
    end
  end)

  it("refuses cycles", function()
    local t = {}
    t.self = t
    assert.matches("^json: cannot encode table nested more than 1000 levels deep %(a cycle%?%) at %$%.%.%.%.self",
      encode_err(t))
    local a = {}
    a[1] = { a }
    assert.matches("a cycle", encode_err(a))
  end)

  it("refuses what JSON cannot hold, naming it and where it is", function()
    assert.are.equal("json: cannot encode function", encode_err(print))
    assert.are.equal("json: cannot encode function at $.a.b[2]", encode_err { a = { b = { 1, print } } })
    assert.are.equal("json: cannot encode thread", encode_err(coroutine.create(function() end)))
    assert.are.equal("json: cannot encode userdata at $[1]", encode_err { io.stdout })
    assert.are.equal("json: cannot encode NaN", encode_err(0 / 0))
    assert.are.equal("json: cannot encode inf at $.x", encode_err { x = math.huge })
    assert.are.equal("json: cannot encode -inf", encode_err(-math.huge))
    assert.are.equal("json: cannot encode string with invalid UTF-8 (byte 2)", encode_err("a\255"))
    assert.are.equal("json: cannot encode string with invalid UTF-8 (byte 1) at $.k",
      encode_err { k = "\237\160\128" })
    assert.are.equal("json: cannot encode string with invalid UTF-8 (byte 1)", encode_err("\195"))
    assert.are.equal('json: cannot encode table key with invalid UTF-8 (byte 2) at $["a?"]',
      encode_err { ["a\192"] = 1 })
    assert.are.equal('json: cannot encode function at $.list[1]["card id"]',
      encode_err { list = { { ["card id"] = print } } })
  end)

  it("refuses tables that are neither a sequence nor a string-keyed object", function()
    assert.are.equal("json: cannot encode table with both string and number keys",
      encode_err { 1, 2, x = 3 })
    assert.are.equal("json: cannot encode sparse array (2 elements, largest index 3) at $.a",
      encode_err { a = { [1] = 1, [3] = 3 } })
    assert.are.equal("json: cannot encode sparse array (1 elements, largest index 2)",
      encode_err { [2] = "x" })
    assert.are.equal("json: cannot encode table with a boolean key", encode_err { [true] = 1 })
    assert.are.equal("json: cannot encode table with a table key", encode_err { [{}] = 1 })
    assert.are.equal("json: cannot encode table with number key 1.5 (not a positive integer)",
      encode_err { [1.5] = 1 })
    assert.are.equal("json: cannot encode table with number key 0 (not a positive integer)",
      encode_err { [0] = 1 })
    assert.are.equal("json: cannot encode table with number key -1 (not a positive integer)",
      encode_err { [-1] = 1, [1] = 2 })
    assert.are.equal("json: cannot encode table with the array metatable and string keys",
      encode_err(setmetatable({ a = 1 }, array_mt)))
    assert.are.equal("json: cannot encode table with the array metatable and string keys",
      encode_err(setmetatable({ 1, a = 1 }, array_mt)))
  end)

  it("never raises on bad data", function()
    for _, v in ipairs { print, 0 / 0, "\255", { [true] = 1 }, { 1, nil, 3 }, io.stdout } do
      local ok, s, err = pcall(encode, v)
      assert.is_true(ok)
      assert.is_nil(s)
      assert.is_string(err)
    end
  end)
  it("formats floats as the shortest of %.15g..%.17g that reads back, short decimals included", function()
    -- the reference: C's printf through string.format; LuaJIT formats
    -- numbers itself (ties round differently past 15 digits), so there only
    -- values of at most 15 significant digits are compared
    local function ref(d)
      local s
      for prec = 15, 17 do
        s = string.format("%." .. prec .. "g", d)
        if tonumber(s) == d then break end
      end
      return s
    end
    local seed = 20261203
    local function rnd(n) -- a small LCG: the same values on both VMs
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    local checked = 0
    local function check(d)
      if d ~= math.floor(d) then
        assert.are.equal(ref(d), encode(d), string.format("%.17g", d))
        checked = checked + 1
      end
    end
    for _ = 1, 20000 do
      local m = rnd(1000000000) * (rnd(2) == 0 and 1 or 1000) * (rnd(2) == 0 and 1 or -1)
      check(m / 10 ^ rnd(13))                       -- short decimals, 1e-4 boundaries
      if not jit then check((rnd(1000000) + 0.5) / 10 ^ rnd(20) * 10 ^ rnd(18)) end
    end
    for _, d in ipairs { 0.1, 0.2, 0.3, 1e-4, 0.00012, 9.9e-5, 1.0000000000000002, 0.30000000000000004,
                         123456789012345.6, 99999999999999.9, 0.5, -0.25, 22.301, 114.05, 1e-5 } do
      check(d)
    end
    assert.is_true(checked > 10000)
  end)

  it("reuses its buffer across calls: a large value, small ones, an error, then again", function()
    local big = {}
    for i = 1, 30000 do big[i] = { id = i, name = "card-" .. i, used = i / 4 } end
    local text = assert(encode(big))
    assert.is_true(#text > 1024 * 1024)
    local back = assert(decode(text))
    assert.are.equal(30000, #back)
    assert.are.equal("card-30000", back[30000].name)
    assert.are.equal(7500, back[30000].used)
    assert.are.equal('{"a":[1,2.5,"x"]}', encode { a = { 1, 2.5, "x" } })
    assert.is_nil(encode { a = { 1, print } })
    assert.are.equal('{"b":true}', encode { b = true })
    assert.are.equal(text, encode(big))
    -- an encode nested in another one (a finalizer run by the collector
    -- while the outer one allocates) gets a buffer of its own
    local nested = {}
    local mt = { __gc = function() nested[#nested + 1] = encode { nested = true } end }
    for _ = 1, 200 do setmetatable({}, mt) end
    local again = assert(encode(big))
    collectgarbage()
    assert.are.equal(text, again)
    for _, n in ipairs(nested) do assert.are.equal('{"nested":true}', n) end
  end)
end)
