--- The command line shared by the generators in tools/: write the generated
-- files, or with --check name the stale ones and fail.
--
--   local outputs = require "outputs"     -- tools/lib on package.path
--   outputs.main(arg, { spec_dir = "spec/catalog", out_dir = "docs/reference",
--     regenerate = "lua5.4 tools/gen_x.lua",
--     files = function(spec_dir, out_dir) return { { path =, text = }, ... } end })
--
-- Usage of such a tool: TOOL [--check] [SPEC_DIR] [OUT_DIR]. Exits 0 when
-- it wrote everything or everything is up to date, 1 when a file is stale.
local M = {}

--- The files whose content on disk differs from `text` (missing ones too).
-- @tparam table files list of `{ path = string, text = string }`
-- @treturn table the stale entries, in the order given
function M.stale(files)
  local out = {}
  for _, gen in ipairs(files) do
    local f = io.open(gen.path, "rb")
    local cur = f and f:read("a")
    if f then f:close() end
    if cur ~= gen.text then out[#out + 1] = gen end
  end
  return out
end

--- Write every file (raises when one cannot be written), saying so on stdout.
-- @tparam table files list of `{ path = string, text = string }`
function M.write(files)
  for _, gen in ipairs(files) do
    local f = assert(io.open(gen.path, "wb"))
    assert(f:write(gen.text))
    assert(f:close())
    print("wrote " .. gen.path)
  end
end

--- Run a generator's command line and exit: 0 when written or up to date,
-- 1 when --check found stale files (each named, with how to regenerate).
-- @tparam table argv the script's `arg`
-- @tparam table opts `spec_dir`, `out_dir` (defaults), `regenerate` (the
-- command to name), `files` (function(spec_dir, out_dir) -> list)
function M.main(argv, opts)
  if type(argv) ~= "table" or type(opts) ~= "table" or type(opts.files) ~= "function" then
    error("outputs.main(arg, { spec_dir =, out_dir =, regenerate =, files = function }) expected", 2)
  end
  local check = argv[1] == "--check"
  local a = check and 2 or 1
  local spec_dir, out_dir = argv[a] or opts.spec_dir, argv[a + 1] or opts.out_dir
  local files = opts.files(spec_dir, out_dir)
  if not check then
    M.write(files)
    os.exit(0)
  end
  local stale = M.stale(files)
  for _, gen in ipairs(stale) do
    print("stale: " .. gen.path .. " (regenerate: " .. opts.regenerate .. ")")
  end
  os.exit(#stale == 0 and 0 or 1)
end

return M
