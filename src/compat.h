/* Shims for what Lua 5.1 / LuaJIT lack; 5.2+ API everywhere else.
 * LuaJIT 2.1 (OpenResty's luajit2) already has luaL_setfuncs,
 * luaL_testudata and luaL_setmetatable; plain PUC 5.1 gets them from
 * compat.c. */
#ifndef SIMKIT_COMPAT_H
#define SIMKIT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM == 501
#define SKC_LUA51 1
#define lua_rawlen(L, i) lua_objlen(L, (i))
#define lua_isinteger(L, i) 0
#define skc_absindex(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
#ifndef luaL_newlib /* PUC Lua 5.1, not LuaJIT */
#define SKC_PUC51 1
#define luaL_newlibtable(L, l) lua_createtable(L, 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
void skc_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
#define luaL_setfuncs skc_setfuncs
void *skc_testudata(lua_State *L, int idx, const char *tname);
#define luaL_testudata skc_testudata
void skc_setmetatable(lua_State *L, const char *tname);
#define luaL_setmetatable skc_setmetatable
#endif
#else
#define SKC_LUA51 0
#define skc_absindex(L, i) lua_absindex(L, (i))
#endif

/* Largest integer a Lua number holds exactly: int64 on 5.3+, 2^53 on 5.1/LuaJIT. */
#if LUA_VERSION_NUM >= 503
#define SKC_HAS_INT64 1
#else
#define SKC_HAS_INT64 0
#endif

#endif
