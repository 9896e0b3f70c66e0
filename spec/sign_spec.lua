-- luacheck: no max line length
-- Signature vectors. EIOTCLUB: the vendor document's worked example plus
-- Java String.valueOf rendering. Huawei: expected values computed with an
-- independent re-implementation of the official SDK signer's algorithm
-- (huaweicloudsdkcore signer.py), kept out of the tree.
local simkit = require "simkit"
local sign = simkit.sign

describe("simkit.sign.eiotclub", function()
  local doc = { appkey = "000001", timestamp = 1556595508, nonce = 24523, userName = "wx", age = 24, sex = 1 }

  it("gives the document's worked example", function()
    assert.equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign.eiotclub(doc, "a1b1c1d1"))
  end)

  it("is case-sensitive on names (the doc's 'username' typo signs differently)", function()
    local p = { appkey = "000001", timestamp = 1556595508, nonce = 24523, username = "wx", age = 24, sex = 1 }
    assert.not_equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign.eiotclub(p, "a1b1c1d1"))
  end)

  it("signs a number and its string form alike, and 24.0 as 24", function()
    local p = { appkey = "000001", timestamp = "1556595508", nonce = "24523", userName = "wx", age = "24", sex = 1.0 }
    assert.equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign.eiotclub(p, "a1b1c1d1"))
  end)

  it("ignores sign, nil, json.null and empty values", function()
    local p = { appkey = "000001", timestamp = 1556595508, nonce = 24523, userName = "wx", age = 24, sex = 1,
      sign = "XYZ", memo = "", extra = simkit.json.null }
    assert.equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign.eiotclub(p, "a1b1c1d1"))
  end)

  it("renders booleans as true/false and sorts 'k=v&' entries as Java does", function()
    -- sha1("a1=x&a=y&b=true&secret=s"): "a1=" sorts before "a=" ('1' < '=')
    local core = require "simkit.core"
    local expect = core.sha1("a1=x&a=y&b=true&secret=s", "HEX")
    assert.equal(expect, sign.eiotclub({ a = "y", a1 = "x", b = true }, "s"))
  end)

  it("signs non-integral floats in their shortest exact form", function()
    local core = require "simkit.core"
    assert.equal(core.sha1("v=0.1&secret=s", "HEX"), sign.eiotclub({ v = 0.1 }, "s"))
    assert.equal(core.sha1("v=-2.5&secret=s", "HEX"), sign.eiotclub({ v = -2.5 }, "s"))
  end)

  it("signs many and long parameters (past its reused buffers) as the joined sorted entries", function()
    local core = require "simkit.core"
    for _, n in ipairs({ 0, 1, 40, 300 }) do
      local p, entries = {}, {}
      for i = 1, n do
        local k = "k" .. ((i * 7919) % 1000) .. string.rep("x", i % 5)
        local v = i % 3 == 0 and i * 1.5 or (i % 3 == 1 and string.rep("v", i * 37) or i)
        p[k] = v
      end
      for k, v in pairs(p) do
        entries[#entries + 1] = k .. "=" .. (type(v) == "number" and v == math.floor(v) and
          string.format("%d", v) or tostring(v)) .. "&"
      end
      table.sort(entries)
      local secret = string.rep("S", n)
      assert.equal(core.sha1(table.concat(entries) .. "secret=" .. secret, "HEX"), sign.eiotclub(p, secret))
    end
    -- the buffers are reused: a small one after the large ones is unchanged
    assert.equal("963A56BAEBED746F2746E4D9B3B77BE0F2E171E7", sign.eiotclub(doc, "a1b1c1d1"))
  end)

  it("raises on values that have no text form (programming errors)", function()
    assert.has_error(function() sign.eiotclub({ a = {} }, "s") end)
    assert.has_error(function() sign.eiotclub({ a = 1 / 0 }, "s") end)
    assert.has_error(function() sign.eiotclub({ a = print }, "s") end)
    assert.has_error(function() sign.eiotclub({ [true] = "x" }, "s") end)
    assert.has_error(function() sign.eiotclub({ a = 0 / 0 }, "s") end)
    assert.has_error(function() sign.eiotclub({ [1] = "x" }, "s") end)
    assert.has_error(function() sign.eiotclub("x", "s") end, "sign.eiotclub: params must be a table")
    assert.has_error(function() sign.eiotclub(nil, "s") end, "sign.eiotclub: params must be a table")
    assert.has_error(function() sign.eiotclub({}, nil) end, "sign.eiotclub: secret must be a string")
    assert.has_error(function() sign.eiotclub({}, 5) end, "sign.eiotclub: secret must be a string")
  end)

  it("signs a parameter whose name only starts with 'sign' (a NUL after it)", function()
    assert.are_not.equal(sign.eiotclub({ a = "1" }, "s"), sign.eiotclub({ ["sign\0x"] = "evil", a = "1" }, "s"))
    assert.equal(sign.eiotclub({ a = "1" }, "s"), sign.eiotclub({ sign = "ABC", a = "1" }, "s"))
  end)

  it("never puts the secret in an error message", function()
    local ok, err = pcall(sign.eiotclub, { a = {} }, "TOPSECRET")
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("TOPSECRET", 1, true))
  end)
end)

describe("simkit.sign.huawei", function()
  local cases = {
    { req = { method = "GET", url = "https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards?limit=10&offset=1&tag_id=2&tag_id=1",
        headers = { ["Content-Type"] = "application/json", ["X-Sdk-Date"] = "20240101T000000Z", ["X-Project-Id"] = "p1" },
        ak = "AK", sk = "SK" },
      auth = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=4f401fbd79fbcfd95f86fc5bfe4ed27410f7dbe2cc065299dde9fa0c6364ab8e" },
    { req = { method = "POST", url = "https://gsl.cn-north-4.myhuaweicloud.com/v1/sim-cards/111111111111111111/stop",
        headers = { ["Content-Type"] = "application/json", ["X-Sdk-Date"] = "20261123T101500Z" },
        body = '{"down_up_switch":1}', ak = "HPUAXXXXXXXX", sk = "secretkey123" },
      auth = "SDK-HMAC-SHA256 Access=HPUAXXXXXXXX, SignedHeaders=content-type;host;x-sdk-date, Signature=bbf19b13d2d95bf34b3d3eef29ee3c1cfa9634ee5e93fc367b8c6def4f7c75f6" },
    { req = { method = "get", url = "http://127.0.0.1:8080/v1/tags",
        headers = { ["X-Sdk-Date"] = "20261123T101500Z", ["Content-Type"] = "  application/json  " }, ak = "a", sk = "b" },
      auth = "SDK-HMAC-SHA256 Access=a, SignedHeaders=content-type;host;x-sdk-date, Signature=b0b130c7e2b42fa115f121947e5485148c4dccfa6e3b8551611f01e9816d884b" },
    { req = { method = "GET", url = "https://h.example.com/v1/a%20b/c~d/%E4%B8%AD?q=%E4%B8%AD%20x&a=b%2Fc&empty=&z",
        headers = { ["X-Sdk-Date"] = "20200101T000000Z" }, ak = "ak", sk = "sk" },
      auth = "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date, Signature=8847be825eeaf37b24bff84e01b62d80e245577444b4b7af31032ab5bd828151" },
    { req = { method = "DELETE", url = "https://h.example.com",
        headers = { ["X-Sdk-Date"] = "20200101T000000Z", Host = "other.example.com:443" }, ak = "ak", sk = "sk" },
      auth = "SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date, Signature=a284bbeac7362fd769770bd9bf18684d9b8b7816c877ba0fb4a81fc3975411a4" },
    { req = { method = "PUT", url = "https://h.example.com/v1/attributes/5/?b=2&a=1&a=0",
        headers = { ["X-Sdk-Date"] = "20200101T000000Z", ["content-type"] = "application/json;charset=UTF-8" },
        body = '{"name":"中文"}', ak = "ak", sk = "sk" },
      auth = "SDK-HMAC-SHA256 Access=ak, SignedHeaders=content-type;host;x-sdk-date, Signature=740d0ddf473e4064cee5eff94b1da9d8006710b1062e1be3f8f310b18a688047" },
  }

  for i, c in ipairs(cases) do
    it("matches the SDK signer, vector " .. i, function()
      local h = sign.huawei(c.req)
      assert.equal(c.auth, h.Authorization)
    end)
  end

  it("sorts a query whose keys or values decode to a NUL (%00) like the spec's own signer", function()
    local hwsign = require "spec.support.hwsign"
    for _, q in ipairs({ "a=x%00y&b=1", "a%00b=&a=z", "%00=%00&%00%00=" }) do
      local h = sign.huawei { method = "GET", url = "https://h.example.com/p?" .. q,
        headers = { ["X-Sdk-Date"] = "20200101T000000Z" }, ak = "ak", sk = "sk" }
      local ref = hwsign.sign { method = "GET", path = "/p", query = q, headers = { host = "h.example.com" },
        body = "", ak = "ak", sk = "sk", date = "20200101T000000Z" }
      assert.equal(ref.authorization, h.Authorization, q)
    end
  end)

  it("signs long paths, methods, header values and queries of many repeated keys like the spec's signer", function()
    local hwsign = require "spec.support.hwsign"
    local seg = string.rep("s%C3%A9g%20/", 40) -- 40 segments, decoded and re-encoded, past one buffer
    for _, n in ipairs({ 0, 1, 5, 30, 200 }) do
      local q = {}
      for i = 1, n do q[#q + 1] = "k" .. (i * 37 % 11) .. "=" .. string.rep("v%2F", i % 7) .. i end
      q = table.concat(q, "&")
      local method = n == 30 and string.rep("PATCH", 120) or "GET"
      local long = string.rep("x", n * 10)
      local h = sign.huawei { method = method, url = "https://h.example.com/v1/" .. seg .. "end?" .. q,
        headers = { ["X-Sdk-Date"] = "20200101T000000Z", ["X-Long"] = "  " .. long .. "  " }, body = long,
        ak = "ak", sk = "sk-" .. n }
      local ref = hwsign.sign { method = method, path = "/v1/" .. seg .. "end", query = q,
        headers = { host = "h.example.com", ["x-long"] = long }, body = long, ak = "ak", sk = "sk-" .. n,
        date = "20200101T000000Z" }
      assert.equal(ref.authorization, h.Authorization, "n = " .. n)
    end
  end)

  it("adds Host from the URL (with port) and keeps the given headers", function()
    local h = sign.huawei(cases[3].req)
    assert.equal("127.0.0.1:8080", h.Host)
    assert.equal("20261123T101500Z", h["X-Sdk-Date"])
    assert.equal("  application/json  ", h["Content-Type"])
    assert.is_nil(cases[3].req.headers.Authorization) -- the input is not modified
  end)

  it("adds a current X-Sdk-Date when none is given", function()
    local before = os.date("!%Y%m%dT%H%M%SZ")
    local h = sign.huawei { method = "GET", url = "https://x.example.com/v1/tags", ak = "a", sk = "b" }
    local after = os.date("!%Y%m%dT%H%M%SZ")
    assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", h["X-Sdk-Date"])
    assert.is_true(h["X-Sdk-Date"] == before or h["X-Sdk-Date"] == after, h["X-Sdk-Date"])
    local ref = require("spec.support.hwsign").sign { method = "GET", path = "/v1/tags", query = "", body = "",
      ak = "a", sk = "b", headers = { host = "x.example.com" }, date = h["X-Sdk-Date"] }
    assert.equal(ref.authorization, h.Authorization)
  end)

  it("takes X-Sdk-Date and Host under any case, and adds neither again", function()
    local hwsign = require "spec.support.hwsign"
    local h = sign.huawei { method = "GET", url = "https://x.example.com/v1/tags", ak = "a", sk = "b",
      headers = { ["x-sdk-DATE"] = "20200101T000000Z", HOST = "other.example.com:8443", ["X-N"] = 12 } }
    assert.is_nil(h["X-Sdk-Date"])
    assert.is_nil(h.Host)
    assert.equal("12", h["X-N"])
    local ref = hwsign.sign { method = "GET", path = "/v1/tags", query = "", body = "", ak = "a", sk = "b",
      headers = { host = "other.example.com:8443", ["x-n"] = "12" }, date = "20200101T000000Z" }
    assert.equal(ref.authorization, h.Authorization)
    assert.has_error(function()
      sign.huawei { method = "GET", url = "https://x.example.com/", ak = "a", sk = "b",
        headers = { ["X-SDK-DATE"] = "2020-01-01" } }
    end, "sign.huawei: X-Sdk-Date must be YYYYMMDDTHHMMSSZ")
  end)

  it("keeps a header value up to its first NUL (sent and signed alike) and numbers as their text", function()
    local hwsign = require "spec.support.hwsign"
    local h = sign.huawei { method = "GET", url = "https://x.example.com/v1/tags", ak = "a", sk = "b",
      headers = { ["X-Sdk-Date"] = "20200101T000000Z", ["X-A"] = "a\0b", ["X-N"] = 1.5, ["X-I"] = 7 } }
    assert.equal("a", h["X-A"])
    assert.equal("1.5", h["X-N"])
    assert.equal("7", h["X-I"])
    local ref = hwsign.sign { method = "GET", path = "/v1/tags", query = "", body = "", ak = "a", sk = "b",
      headers = { host = "x.example.com", ["x-a"] = "a", ["x-n"] = "1.5", ["x-i"] = "7" }, date = "20200101T000000Z" }
    assert.equal(ref.authorization, h.Authorization)
  end)

  it("signs alike when called again, with the key changing between calls and back", function()
    local first = {}
    for round = 1, 3 do
      for i, c in ipairs(cases) do
        local h = sign.huawei(c.req)
        assert.equal(c.auth, h.Authorization)
        if round == 1 then
          first[i] = h
        else
          assert.are.same(first[i], h)
          assert.are_not.equal(first[i], h) -- a new table every call
        end
      end
    end
  end)

  it("reads its fields through __index like any table access (a proxy signs as the table)", function()
    local proxy = setmetatable({}, { __index = cases[1].req })
    assert.equal(cases[1].auth, sign.huawei(proxy).Authorization)
  end)

  it("uses X-Sdk-Content-Sha256 instead of hashing the body when given", function()
    local base = { method = "POST", url = "https://x.example.com/v1/a", body = "abc", ak = "a", sk = "b",
      headers = { ["X-Sdk-Date"] = "20200101T000000Z" } }
    local h1 = sign.huawei(base)
    base.body = "different"
    assert.not_equal(h1.Authorization, sign.huawei(base).Authorization)
    base.headers["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    local h2 = sign.huawei(base)
    base.body = "abc"
    assert.equal(h2.Authorization, sign.huawei(base).Authorization)
  end)

  it("raises on bad input", function()
    assert.has_error(function() sign.huawei("x") end, "sign.huawei: expected a table")
    assert.has_error(function() sign.huawei() end, "sign.huawei: expected a table")
    assert.has_error(function() sign.huawei { method = "GET", url = "no-scheme", ak = "a", sk = "b" } end)
    assert.has_error(function() sign.huawei { method = "GET", url = "https://h/x", ak = "a" } end)
    assert.has_error(function()
      sign.huawei { method = "GET", url = "https://h/x", ak = "a", sk = "b", headers = { ["X-Sdk-Date"] = "2020-01-01" } }
    end)
    assert.has_error(function() sign.huawei { method = "GET", url = "https://h/x", ak = "a", sk = "b", headers = "x" } end)
  end)

  it("never shows the sk in an error", function()
    local ok, err = pcall(sign.huawei, { method = "GET", url = "bad", ak = "a", sk = "TOPSECRET" })
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("TOPSECRET", 1, true))
  end)
end)
