-- The C SQLite binding itself (src/sqlite.c: core.sqlite_open, db:exec,
-- db:run, db:close, __gc): every method, its error paths and its statement
-- cache. No child processes, so `make check-asan` runs it under ASan+UBSan
-- (and valgrind): a leak or a bad access on any of these paths fails there.
local core = require "simkit.core"

local HAS_INT = math.type ~= nil

local function tmp_path()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function remove_db(p)
  for _, s in ipairs { "", "-wal", "-shm", "-journal" } do os.remove(p .. s) end
end

local function mem()
  local db = assert(core.sqlite_open(":memory:"))
  assert(db:exec("CREATE TABLE kv(k TEXT PRIMARY KEY, v)"))
  return db
end

describe("core.sqlite_open", function()
  it("opens a new file (mode 0600 is set by the binding) and an in-memory database", function()
    local p = tmp_path()
    local db = assert(core.sqlite_open(p, 100))
    assert.equal("simkit.core.sqlite (open)", tostring(db))
    assert.is_true(db:exec("CREATE TABLE t(x)"))
    db:close()
    assert.equal("simkit.core.sqlite (closed)", tostring(db))
    -- the file persists and reopens
    local again = assert(core.sqlite_open(p))
    assert.same({ true, 0, 0 }, { again:run("SELECT count(*) FROM t") })
    again:close()
    remove_db(p)
    assert.truthy(core.sqlite_open(":memory:"))
  end)

  it("a path it cannot open: nil and SQLite's message (missing directory, a directory)", function()
    local db, err = core.sqlite_open("/nonexistent-simkit-dir/x.db")
    assert.is_nil(db)
    assert.equal("unable to open database file", err)
    db, err = core.sqlite_open("/tmp")
    assert.is_nil(db)
    assert.equal("unable to open database file", err)
  end)

  it("a file that is not a database: the first statement touching it fails with code 26", function()
    local p = tmp_path()
    local f = assert(io.open(p, "wb"))
    f:write(string.rep("not a database\0", 200))
    f:close()
    local db = assert(core.sqlite_open(p))
    local ok, msg, code = db:exec("CREATE TABLE t(x)")
    assert.is_nil(ok)
    assert.equal("file is not a database", msg)
    assert.equal(26, code)
    ok, msg, code = db:run("SELECT * FROM sqlite_master")
    assert.is_nil(ok)
    assert.equal("file is not a database", msg)
    assert.equal(26, code)
    db:close()
    remove_db(p)
  end)

  it("raises on bad arguments (path type, busy timeout NaN, inf, negative, huge, not a number)", function()
    assert.has_error(function() core.sqlite_open() end)
    assert.has_error(function() core.sqlite_open({}) end)
    assert.has_error(function() core.sqlite_open(":memory:", 0 / 0) end, nil)
    for _, bad in ipairs { 0 / 0, 1 / 0, -1 / 0, -1, 3600001, 2 ^ 62 } do
      local ok, err = pcall(core.sqlite_open, ":memory:", bad)
      assert.is_false(ok)
      assert.matches("busy timeout must be 0..3600000 ms", err)
    end
    assert.has_error(function() core.sqlite_open(":memory:", "soon") end)
    assert.truthy(core.sqlite_open(":memory:", 0))
    assert.truthy(core.sqlite_open(":memory:", 3600000))
  end)
end)

describe("core.sqlite db methods", function()
  it("run binds nil, booleans, integers, floats and strings and returns the first column and changes", function()
    local db = mem()
    assert.same({ true, nil, 1 }, { db:run("INSERT INTO kv VALUES (?, ?)", "n", nil) })
    assert.same({ true, nil, 1 }, { db:run("INSERT INTO kv VALUES (?, ?)", "b", true) })
    assert.same({ true, nil, 1 }, { db:run("INSERT INTO kv VALUES (?, ?)", "i", 42) })
    assert.same({ true, nil, 1 }, { db:run("INSERT INTO kv VALUES (?, ?)", "f", 1.5) })
    assert.same({ true, nil, 1 }, { db:run("INSERT INTO kv VALUES (?, ?)", "s", "text") })
    local q = "SELECT v FROM kv WHERE k = ?"
    assert.same({ true, nil, 1 }, { db:run(q, "n") }) -- changes is the last write's count
    assert.equal(1, select(2, db:run(q, "b")))
    assert.equal(42, select(2, db:run(q, "i")))
    assert.equal(1.5, select(2, db:run(q, "f")))
    assert.equal("text", select(2, db:run(q, "s")))
    assert.is_nil(select(2, db:run(q, "absent")))
    -- fewer parameters than placeholders: the rest are NULL
    assert.same({ true, nil, 1 }, { db:run("UPDATE kv SET v = ? WHERE k = 's'") })
    assert.is_nil(select(2, db:run(q, "s")))
    db:close()
  end)

  it("extreme numbers: int64 bounds exact, inf kept, NaN stored as NULL", function()
    local db = mem()
    local q = "SELECT v FROM kv WHERE k = ?"
    local cases = { { "inf", 1 / 0 }, { "ninf", -1 / 0 }, { "big", 1e308 }, { "tiny", 5e-324 } }
    if HAS_INT then
      cases[#cases + 1] = { "max", math.maxinteger }
      cases[#cases + 1] = { "min", math.mininteger }
    else
      cases[#cases + 1] = { "2^53", 2 ^ 53 }
      cases[#cases + 1] = { "-2^53", -(2 ^ 53) }
    end
    for _, c in ipairs(cases) do
      assert(db:run("INSERT INTO kv VALUES (?, ?)", c[1], c[2]))
      local got = select(2, db:run(q, c[1]))
      assert.equal(c[2], got)
      if HAS_INT then assert.equal(math.type(c[2]), math.type(got)) end
    end
    assert(db:run("INSERT INTO kv VALUES (?, ?)", "nan", 0 / 0))
    assert.equal("null", select(2, db:run("SELECT typeof(v) FROM kv WHERE k = ?", "nan")))
    db:close()
  end)

  it("keys and values with NUL bytes and a 16 MB value round-trip byte for byte", function()
    local db = mem()
    local key, val = "a\0b\0", "\0x\0\255\0"
    assert(db:run("INSERT INTO kv VALUES (?, ?)", key, val))
    assert.equal(val, select(2, db:run("SELECT v FROM kv WHERE k = ?", key)))
    assert.is_nil(select(2, db:run("SELECT v FROM kv WHERE k = ?", "a"))) -- no truncation at NUL
    assert.equal(5, select(2, db:run("SELECT length(CAST(v AS BLOB)) FROM kv WHERE k = ?", key)))
    local huge = string.rep("0123456789abcdef", 1024 * 1024)
    assert(db:run("INSERT INTO kv VALUES (?, ?)", "huge", huge))
    assert.equal(huge, select(2, db:run("SELECT v FROM kv WHERE k = ?", "huge")))
    assert.equal(#huge, select(2, db:run("SELECT length(v) FROM kv WHERE k = ?", "huge")))
    db:close()
  end)

  it("RETURNING with several rows: the first row's column, every row written", function()
    local db = mem()
    local ok, first, changes = db:run("INSERT INTO kv VALUES (?, 1), (?, 2), (?, 3) RETURNING k", "x", "y", "z")
    assert.is_true(ok)
    assert.equal("x", first)
    assert.equal(3, changes)
    assert.equal(3, select(2, db:run("SELECT count(*) FROM kv")))
    db:close()
  end)

  it("SQL errors are nil, message, code; the connection stays usable", function()
    local db = mem()
    assert.same({ nil, 'near "NOT": syntax error', 1 }, { db:exec("NOT SQL") })
    assert.same({ nil, 'near "NOT": syntax error', 1 }, { db:run("NOT SQL") })
    assert.same({ nil, "no such table: nope", 1 }, { db:run("SELECT * FROM nope") })
    assert(db:run("INSERT INTO kv VALUES ('k', 1)"))
    assert.same({ nil, "UNIQUE constraint failed: kv.k", 19 }, { db:run("INSERT INTO kv VALUES (?, 2)", "k") })
    -- a constraint failure on the second row of a RETURNING statement
    local ok, msg, code = db:run("INSERT INTO kv VALUES ('j', 1), ('k', 2) RETURNING k")
    assert.is_nil(ok)
    assert.equal("UNIQUE constraint failed: kv.k", msg)
    assert.equal(19, code)
    assert.equal(1, select(2, db:run("SELECT v FROM kv WHERE k = ?", "k")))
    db:close()
  end)

  it("SQL text with no statement is a programming error: it raises (it used to return nil, 'not an error', 0)", function()
    local db = mem()
    for _, sql in ipairs { "", "   ", "-- only a comment", ";" } do
      local ok, err = pcall(db.run, db, sql)
      assert.is_false(ok, sql)
      assert.matches("holds no SQL statement", err)
    end
    assert.is_true(db:exec(""))
    assert.equal(1, select(2, db:run("SELECT 1")))
    db:close()
  end)

  it("raises on misuse: too many parameters, a table parameter, a non-string SQL, a closed database", function()
    local db = mem()
    local ok, err = pcall(db.run, db, "SELECT ?", 1, 2)
    assert.is_false(ok)
    assert.matches("2 parameters for a statement that takes 1", err)
    ok, err = pcall(db.run, db, "SELECT ?", {})
    assert.is_false(ok)
    assert.matches("sqlite parameters are nil, booleans, numbers or strings", err)
    assert.has_error(function() db:run("SELECT ?, ?", 1, print) end)
    assert.has_error(function() db:run(nil) end)
    assert.has_error(function() db:exec({}) end)
    assert.has_error(function() db.run({}, "SELECT 1") end)
    -- the statement that raised is reusable, with fresh bindings
    assert.same({ true, nil, 0 }, { db:run("SELECT ?, ?") })
    assert.equal(7, select(2, db:run("SELECT ?", 7)))
    db:close()
    ok, err = pcall(db.run, db, "SELECT 1")
    assert.is_false(ok)
    assert.matches("the database is closed", err)
    assert.has_error(function() db:exec("SELECT 1") end, nil)
  end)

  it("close twice, then __gc, is safe; an unclosed database is freed by __gc", function()
    local db = mem()
    assert(db:run("SELECT v FROM kv WHERE k = ?", "cached")) -- a cached statement to finalize
    db:close()
    db:close()
    getmetatable(db).__gc(db)
    db = nil -- luacheck: ignore
    for _ = 1, 20 do
      local d = mem()
      assert(d:run("INSERT INTO kv VALUES (?, ?)", "k", string.rep("v", 1000)))
    end
    collectgarbage()
    collectgarbage()
  end)
end)

describe("core.sqlite statement cache", function()
  it("more distinct statements than cache slots, reused out of order, give right answers", function()
    local db = mem()
    for i = 1, 40 do assert(db:run("INSERT INTO kv VALUES (?, ?)", "k" .. i, i)) end
    -- 40 distinct texts cycle through the 16 slots several times
    for round = 1, 3 do
      for i = 40, 1, -1 do
        local sql = "SELECT v + " .. round .. " FROM kv WHERE k = ? /* " .. i .. " */"
        assert.equal(i + round, select(2, db:run(sql, "k" .. i)))
      end
    end
    db:close()
  end)

  it("a cached statement follows a schema change; a dropped table is an error, not a stale answer", function()
    local db = mem()
    local q = "SELECT v FROM kv WHERE k = ?"
    assert(db:run("INSERT INTO kv VALUES ('a', 1)"))
    assert.equal(1, select(2, db:run(q, "a")))
    assert(db:exec("DROP TABLE kv; CREATE TABLE kv(v, k TEXT PRIMARY KEY); INSERT INTO kv VALUES (2, 'a')"))
    assert.equal(2, select(2, db:run(q, "a")))
    assert(db:exec("DROP TABLE kv"))
    assert.same({ nil, "no such table: kv", 1 }, { db:run(q, "a") })
    db:close()
  end)
end)

describe("core.sqlite locking", function()
  it("a write blocked past the busy timeout by another connection's BEGIN IMMEDIATE: nil, 'database is locked', 5",
    function()
      local p = tmp_path()
      local a = assert(core.sqlite_open(p, 0))
      assert(a:exec("CREATE TABLE kv(k TEXT PRIMARY KEY, v)"))
      local b = assert(core.sqlite_open(p, 20))
      assert(a:exec("BEGIN IMMEDIATE"))
      assert.same({ nil, "database is locked", 5 }, { b:run("INSERT INTO kv VALUES (?, ?)", "k", 1) })
      assert.same({ nil, "database is locked", 5 }, { b:exec("BEGIN IMMEDIATE") })
      -- readers are not blocked by a reserved lock
      assert.equal(0, select(2, b:run("SELECT count(*) FROM kv")))
      assert(a:exec("COMMIT"))
      -- the statement that failed is reset and works now
      assert.same({ true, nil, 1 }, { b:run("INSERT INTO kv VALUES (?, ?)", "k", 1) })
      assert.equal(1, select(2, a:run("SELECT v FROM kv WHERE k = ?", "k")))
      a:close()
      b:close()
      remove_db(p)
    end)
end)
