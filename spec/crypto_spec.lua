local core = require "simkit.core"

describe("core crypto", function()
  it("sha1 / sha256 known vectors", function()
    assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", core.sha1("abc", "hex"))
    assert.equal("A9993E364706816ABA3E25717850C26C9CD0D89D", core.sha1("abc", "HEX"))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", core.sha256("abc", "hex"))
    assert.equal(32, #core.sha256("abc"))
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", core.sha256("", "hex"))
  end)

  it("hmac-sha256 (RFC 4231 test case 2)", function()
    assert.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      core.hmac_sha256("Jefe", "what do ya want for nothing?", "hex"))
  end)

  it("hmac-sha256 with keys that change, repeat, extend one another or are empty (RFC 4231 1, 2, 6)", function()
    local vectors = {
      { string.rep("\11", 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
      { "Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
      { string.rep("\170", 131), "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
      { "", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad" },
    }
    -- the same key twice in a row reuses its schedule; a key that is a
    -- prefix of the previous one, or the previous one plus a byte, must not
    -- (a key plus NUL bytes is the same HMAC key: HMAC pads keys with zeros)
    local order = { 1, 1, 2, 3, 3, 1, 4, 4, 2, 1, 3, 4, 2, 2 }
    for _, i in ipairs(order) do
      local v = vectors[i]
      assert.equal(v[3], core.hmac_sha256(v[1], v[2], "hex"))
    end
    local k = "Jefe"
    local a = core.hmac_sha256(k, "x", "hex")
    assert.not_equal(a, core.hmac_sha256(k .. "!", "x", "hex"))
    assert.equal(a, core.hmac_sha256(k .. "\0", "x", "hex")) -- HMAC pads keys with zeros
    assert.not_equal(a, core.hmac_sha256(k:sub(1, 3), "x", "hex"))
    assert.equal(a, core.hmac_sha256(k, "x", "hex"))
  end)

  it("sha1 / sha256 of messages over one block and of a million bytes (FIPS 180 vectors)", function()
    local m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", core.sha256(m, "hex"))
    assert.equal("84983e441c3bd26ebaae4aa1f95129e5e54670f1", core.sha1(m, "hex"))
    local a = string.rep("a", 1000000)
    assert.equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", core.sha256(a, "hex"))
    assert.equal("34aa973cd4c4daa4f61eeb2bdbad27316534016f", core.sha1(a, "hex"))
    -- interleaved with HMACs (their states are separate from the digest's)
    assert.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      core.hmac_sha256("Jefe", "what do ya want for nothing?", "hex"))
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", core.sha256(m, "hex"))
  end)

  it("hmac-sha256: RFC 4231 cases 3, 4, 7 and keys of exactly one block, one byte over, and their hash", function()
    local key4 = ""
    for i = 1, 25 do key4 = key4 .. string.char(i) end
    local k64, k65 = string.rep("k", 64), string.rep("k", 65)
    local vectors = {
      { string.rep("\170", 20), string.rep("\221", 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
      { key4, string.rep("\205", 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
      { string.rep("\170", 131), "This is a test using a larger than block-size key and a larger than block-size data."
        .. " The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
      { k64, "x", "f91c4c403625fb06910ef93999265bbd2d62baeaec6ff36455498cc124fe3e66" },
      { k65, "x", "75092ca3ee2b307470c227697b42b3e65376aa3bae98fb5a1f7b7536daa9588a" },
      -- a key over the block is replaced by its SHA-256: that digest as the key is the same HMAC key
      { core.sha256(k65), "x", "75092ca3ee2b307470c227697b42b3e65376aa3bae98fb5a1f7b7536daa9588a" },
      { k65, string.rep("y", 1000), "6bf1cc620c6c2489f77bad2bef39142d21cc2f52db4558573efb8157d3f57bb3" },
    }
    for _, i in ipairs({ 1, 2, 3, 4, 5, 6, 7, 4, 4, 6, 5, 7, 5, 3, 1, 2, 1 }) do
      local v = vectors[i]
      assert.equal(v[3], core.hmac_sha256(v[1], v[2], "hex"))
    end
  end)

  it("hex / unhex round trip and errors", function()
    assert.equal("00ff10", core.hex("\0\255\16"))
    assert.equal("00FF10", core.hex("\0\255\16", true))
    assert.equal("\0\255\16", core.unhex("00fF10"))
    assert.is_nil(core.unhex("abc"))
    local v, err = core.unhex("zz")
    assert.is_nil(v)
    assert.matches("byte 1", err)
  end)

  it("base64 (RFC 4648 vectors) and strict decoding", function()
    local vec = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==", fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
    for plain, enc in pairs(vec) do
      assert.equal(enc, core.base64_encode(plain))
      assert.equal(plain, core.base64_decode(enc))
    end
    assert.is_nil(core.base64_decode("Zm9"))
    assert.is_nil(core.base64_decode("Zm9v!A=="))
    assert.is_nil(core.base64_decode("Z=9v"))
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() core.sha1({}) end)
    assert.has_error(function() core.sha1("x", "bin") end)
    assert.has_error(function() core.random_bytes(-1) end)
    assert.has_error(function() core.random_bytes(4096) end)
    assert.equal(16, #core.random_bytes(16))
    assert.not_equal(core.random_bytes(16), core.random_bytes(16))
  end)

  it("clock functions", function()
    local t = core.now()
    assert.is_true(math.abs(t - os.time()) < 2)
    local m0 = core.monotonic()
    core.sleep(0.02)
    assert.is_true(core.monotonic() - m0 >= 0.015)
    assert.has_error(function() core.sleep(-1) end)
  end)
end)
