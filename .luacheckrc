-- luacheck configuration: no globals anywhere; ngx only where it exists.
std = "max"
max_line_length = 160
exclude_files = { "build/**", "lua/simkit/vendor/*_ops.lua", "lua/simkit/vendor/*_errors.lua" }
files["spec/**/*.lua"] = { std = "+busted" }
files["sim/**/*.lua"] = { read_globals = { "ngx" } }
files["lua/simkit/transport/ngx.lua"] = { read_globals = { "ngx" } }
files["examples/nginx/**/*.lua"] = { read_globals = { "ngx" } }
