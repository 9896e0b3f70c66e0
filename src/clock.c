/* Wall clock, monotonic clock and a blocking sleep (plain Lua has none). */
#include <errno.h>
#include <math.h>
#include <time.h>
#include "simkit.h"

static double ts_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* core.now() -> unix time in seconds (float) */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)ts_seconds(CLOCK_REALTIME));
    return 1;
}

/* core.monotonic() -> seconds from an arbitrary origin (float) */
static int l_monotonic(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)ts_seconds(CLOCK_MONOTONIC));
    return 1;
}

/* core.sleep(seconds): blocks the calling thread; never use inside nginx. */
static int l_sleep(lua_State *L)
{
    double s = (double)luaL_checknumber(L, 1);
    struct timespec ts;
    luaL_argcheck(L, s >= 0 && s <= 86400 && !isnan(s), 1, "seconds must be in 0..86400");
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

static const luaL_Reg funcs[] = {
    { "now", l_now },
    { "monotonic", l_monotonic },
    { "sleep", l_sleep },
    { NULL, NULL },
};

void skc_open_clock(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
}
