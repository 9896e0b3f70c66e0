/* EIOTCLUB request/notification signature.
 *
 * The vendor's reference is Java: every map entry becomes "key=value&"
 * (value via String.valueOf), the entry STRINGS are sorted, joined, and
 * "secret=<secret>" is appended; SHA1, upper-case hex. Empty and null values
 * are left out (the document's rule: only non-empty parameters are signed;
 * simkit never sends them either). "sign" itself is never signed. */
#include <string.h>
#include "simkit.h"

/* Push the text a value signs as, or return 0 to skip it. Raises on a value
 * that has no string form (a table, a function): a programming error. */
static int push_value_text(lua_State *L, int idx, const char *key)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        if (lua_rawlen(L, idx) == 0)
            return 0;
        lua_pushvalue(L, idx);
        return 1;
    case LUA_TNUMBER: {
        char buf[SKC_NUMBUF];
        size_t n = skc_format_number(L, idx, buf);
        if (n == 0)
            return luaL_error(L, "sign.eiotclub: parameter '%s' is not a finite number", key);
        lua_pushlstring(L, buf, n);
        return 1;
    }
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return 1;
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA: /* json.null */
        return 0;
    default:
        return luaL_error(L, "sign.eiotclub: parameter '%s' cannot be signed (a %s)", key,
                          luaL_typename(L, idx));
    }
}

/* core.sign_eiotclub(params, secret) -> "UPPERHEX" */
int skc_sign_eiotclub(lua_State *L)
{
    size_t slen, count, i;
    const char *secret;
    skc_slice *v;
    luaL_Buffer b;
    unsigned char md[20];
    char hex[40];
    int entries, n = 0;

    luaL_checktype(L, 1, LUA_TTABLE);
    secret = luaL_checklstring(L, 2, &slen);
    lua_settop(L, 2);
    lua_newtable(L); /* 3: entries */
    entries = 3;
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        const char *key;
        size_t klen;
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "sign.eiotclub: parameter names must be strings");
        key = lua_tolstring(L, -2, &klen);
        /* by length: "sign\0x" is another parameter, and it is signed */
        if (!(klen == 4 && memcmp(key, "sign", 4) == 0) && push_value_text(L, -1, key)) {
            lua_pushvalue(L, -3);
            lua_pushliteral(L, "=");
            lua_pushvalue(L, -3);
            lua_pushliteral(L, "&");
            lua_concat(L, 4);
            lua_rawseti(L, entries, ++n);
            lua_pop(L, 1); /* value text */
        }
        lua_pop(L, 1);
    }
    v = skc_sorted_strings(L, entries, &count);
    luaL_buffinit(L, &b);
    for (i = 0; i < count; i++)
        luaL_addlstring(&b, v[i].ptr, v[i].len);
    luaL_addlstring(&b, "secret=", 7);
    luaL_addlstring(&b, secret, slen);
    luaL_pushresult(&b);
    {
        size_t tlen;
        const char *text = lua_tolstring(L, -1, &tlen);
        if (!skc_sha1(text, tlen, md))
            return luaL_error(L, "sign.eiotclub: sha1 failed");
    }
    skc_hex(md, sizeof md, hex, 1);
    lua_pushlstring(L, hex, sizeof hex);
    return 1;
}
