# simkit — build, test, demo, bench.
#   make                 build build/lua5.4/simkit/core.so
#   make LUA=luajit      build build/luajit/simkit/core.so (OpenResty's luajit2)
#   make deps            install the missing Debian packages (apt-get)
#   make test            luacheck + generated-table check + busted under Lua 5.4 and LuaJIT
#   make demo            build, start the sandbox, run examples/auto_topup.lua
#   make bench           benchmarks (ratios)
#   make check-asan      the C core and the specs under ASan+UBSan

LUA ?= lua5.4
CC ?= cc

ifeq ($(LUA),luajit)
  LUA_INC ?= /usr/include/luajit-2.1
  LUA_BIN ?= luajit
else ifeq ($(LUA),lua5.1)
  LUA_INC ?= /usr/include/lua5.1
  LUA_BIN ?= lua5.1
else ifeq ($(LUA),lua5.3)
  LUA_INC ?= /usr/include/lua5.3
  LUA_BIN ?= lua5.3
else
  LUA_INC ?= /usr/include/lua5.4
  LUA_BIN ?= lua5.4
endif

BUILD   := build/$(if $(BUILD_TAG),$(BUILD_TAG)-)$(LUA)
TARGET  := $(BUILD)/simkit/core.so
SRCS    := $(sort $(wildcard src/*.c))
OBJS    := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
HDRS    := $(wildcard src/*.h)

WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -fPIC -fvisibility=hidden $(WARN) -I$(LUA_INC) $(EXTRA_CFLAGS)
LDLIBS  := -lcurl -lcrypto -lsqlite3
LDFLAGS += -shared $(EXTRA_LDFLAGS)

# Debian packages the project needs (DESIGN.md). luajit2 / libluajit2-5.1-dev,
# never luajit / libluajit-5.1-dev (they conflict with libnginx-mod-http-lua).
DEB_PKGS := build-essential lua5.4 liblua5.4-dev libcurl4-openssl-dev libssl-dev \
            lua-cjson lua-busted lua-socket luarocks lua-check luajit2 libluajit2-5.1-dev \
            nginx-light libnginx-mod-http-lua valgrind ca-certificates locales \
            libsqlite3-dev sqlite3 redis-server redis-tools lua-nginx-redis \
            lua-argparse lua-filesystem lua-term chromium wrk util-linux python3

.PHONY: asan all deps build test test-lua lint demo bench check-asan clean sandbox-start sandbox-stop

all: $(TARGET)

asan: $(TARGET)

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(TARGET): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(MAKE) LUA=lua5.4
	$(MAKE) LUA=luajit

lint:
	luacheck --quiet lua spec sim bench examples tools bin/simkit

# The whole suite: lint, generated tables, busted under both VMs; ends with "N passed, N failed".
test: build
	@bash tools/run-tests.sh

demo: build
	@bash tools/demo.sh

bench: build
	@bash tools/bench.sh

check-asan: build
	@bash tools/check-asan.sh

clean:
	rm -rf build
