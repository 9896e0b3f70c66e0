rockspec_format = "3.0"
package = "simkit"
version = "scm-1"
source = { url = "git+file:///simkit" }
description = {
  summary = "IoT SIM card management for EIOTCLUB, Huawei Cloud GSL and TIBIOT, with a C core",
  license = "MIT",
}
dependencies = { "lua >= 5.1", "argparse", "luafilesystem", "lua-term" }
external_dependencies = {
  CURL = { library = "curl" },
  OPENSSL = { library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    ["simkit.core"] = {
      sources = { "src/core.c", "src/compat.c", "src/crypto.c", "src/json.c", "src/http.c", "src/clock.c",
        "src/num.c", "src/strsort.c", "src/sign_eiotclub.c", "src/sign_huawei.c" },
      libraries = { "curl", "crypto" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
      defines = { "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
    },
    ["simkit"] = "lua/simkit/init.lua",
    ["simkit.cdr"] = "lua/simkit/cdr.lua",
    ["simkit.cli"] = "lua/simkit/cli/init.lua",
    ["simkit.cli.args"] = "lua/simkit/cli/args.lua",
    ["simkit.cli.common"] = "lua/simkit/cli/common.lua",
    ["simkit.cli.config"] = "lua/simkit/cli/config.lua",
    ["simkit.cli.fleet"] = "lua/simkit/cli/fleet.lua",
    ["simkit.cli.output"] = "lua/simkit/cli/output.lua",
    ["simkit.cli.report"] = "lua/simkit/cli/report.lua",
    ["simkit.cli.rules"] = "lua/simkit/cli/rules.lua",
    ["simkit.cli.sim"] = "lua/simkit/cli/sim.lua",
    ["simkit.client"] = "lua/simkit/client.lua",
    ["simkit.errors"] = "lua/simkit/errors.lua",
    ["simkit.json"] = "lua/simkit/json.lua",
    ["simkit.notify"] = "lua/simkit/notify.lua",
    ["simkit.orders"] = "lua/simkit/orders.lua",
    ["simkit.eiotclub.orders"] = "lua/simkit/eiotclub/orders.lua",
    ["simkit.ratelimit"] = "lua/simkit/ratelimit.lua",
    ["simkit.receiver"] = "lua/simkit/receiver.lua",
    ["simkit.report"] = "lua/simkit/report.lua",
    ["simkit.sign"] = "lua/simkit/sign.lua",
    ["simkit.transport.auto"] = "lua/simkit/transport/auto.lua",
    ["simkit.transport.curl"] = "lua/simkit/transport/curl.lua",
    ["simkit.transport.ngx"] = "lua/simkit/transport/ngx.lua",
    ["simkit.util"] = "lua/simkit/util.lua",
    ["simkit.validate"] = "lua/simkit/validate.lua",
    ["simkit.vendor.common"] = "lua/simkit/vendor/common.lua",
    ["simkit.vendor.eiotclub"] = "lua/simkit/vendor/eiotclub.lua",
    ["simkit.vendor.eiotclub_errors"] = "lua/simkit/vendor/eiotclub_errors.lua",
    ["simkit.vendor.eiotclub_events"] = "lua/simkit/vendor/eiotclub_events.lua",
    ["simkit.vendor.eiotclub_ops"] = "lua/simkit/vendor/eiotclub_ops.lua",
    ["simkit.vendor.huawei"] = "lua/simkit/vendor/huawei.lua",
    ["simkit.vendor.huawei_errors"] = "lua/simkit/vendor/huawei_errors.lua",
    ["simkit.vendor.huawei_ops"] = "lua/simkit/vendor/huawei_ops.lua",
    ["simkit.vendor.huawei_token"] = "lua/simkit/vendor/huawei_token.lua",
    ["simkit.vendor.tibiot"] = "lua/simkit/vendor/tibiot.lua",
    ["simkit.vendor.tibiot_ops"] = "lua/simkit/vendor/tibiot_ops.lua",
    ["simkit.vendor.tibiot_signers"] = "lua/simkit/vendor/tibiot_signers.lua",
  },
  -- the `simkit` command (docs/cli.md); it needs Debian's lua-argparse, lua-filesystem and lua-term
  install = { bin = { simkit = "bin/simkit" } },
}
