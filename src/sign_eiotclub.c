/* EIOTCLUB request/notification signature.
 *
 * The vendor's reference is Java: every map entry becomes "key=value&"
 * (value via String.valueOf), the entry STRINGS are sorted, joined, and
 * "secret=<secret>" is appended; SHA1, upper-case hex. Empty and null values
 * are left out (the document's rule: only non-empty parameters are signed;
 * simkit never sends them either). "sign" itself is never signed.
 *
 * Scratch buffers of the state: every entry is written once into one, the
 * entries are sorted as slices of it and copied in order into another with
 * the secret, hashed in one call (no Lua string per entry); the secret's
 * copy is cleansed right after. */
#include <string.h>
#include <openssl/crypto.h>
#include "simkit.h"

/* The text a value signs as, in *text / *len (buf holds numbers); 0 to skip
 * it. Raises on a value that has no string form (a table, a function): a
 * programming error. */
static int value_text(lua_State *L, int idx, const char *key, char *buf, const char **text, size_t *len)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        *text = lua_tolstring(L, idx, len);
        return *len > 0;
    case LUA_TNUMBER:
        *len = skc_format_number(L, idx, buf);
        if (*len == 0)
            return luaL_error(L, "sign.eiotclub: parameter '%s' is not a finite number", key);
        *text = buf;
        return 1;
    case LUA_TBOOLEAN:
        *text = lua_toboolean(L, idx) ? "true" : "false";
        *len = strlen(*text);
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
    skc_crypto *cr = skc_crypto_of(L);
    size_t slen, used = 0, n = 0, i, clen;
    const char *secret;
    char *text, *canon;
    skc_slice *v;
    unsigned char md[20];
    char hex[40];
    int ok;

    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "sign.eiotclub: params must be a table");
    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_error(L, "sign.eiotclub: secret must be a string");
    secret = lua_tolstring(L, 2, &slen);
    lua_settop(L, 2);
    /* entries "k=v&" one after the other in scratch 0; slices hold offsets
     * (the buffer may move while it grows) until every entry is written */
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        const char *key, *val = NULL;
        size_t klen, vlen = 0, need;
        char num[SKC_NUMBUF];
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "sign.eiotclub: parameter names must be strings");
        key = lua_tolstring(L, -2, &klen);
        /* by length: "sign\0x" is another parameter, and it is signed */
        if (!(klen == 4 && memcmp(key, "sign", 4) == 0) && value_text(L, -1, key, num, &val, &vlen)) {
            need = klen + vlen + 2;
            text = (char *)skc_scratch_get(cr, 0, used + need);
            v = (skc_slice *)skc_scratch_get(cr, 1, (n + 1) * sizeof *v);
            if (text == NULL || v == NULL)
                return luaL_error(L, "sign.eiotclub: out of memory");
            memcpy(text + used, key, klen);
            text[used + klen] = '=';
            memcpy(text + used + klen + 1, val, vlen);
            text[used + need - 1] = '&';
            v[n].ptr = NULL;
            v[n].len = used; /* the offset, for now */
            n++;
            used += need;
        }
        lua_pop(L, 1);
    }
    text = (char *)skc_scratch_get(cr, 0, used ? used : 1);
    v = (skc_slice *)skc_scratch_get(cr, 1, (n ? n : 1) * sizeof *v);
    for (i = 0; i < n; i++) { /* offsets -> slices */
        size_t off = v[i].len, end = i + 1 < n ? v[i + 1].len : used;
        v[i].ptr = text + off;
        v[i].len = end - off;
    }
    skc_sort_slices(v, n);
    /* the canonical string in one buffer, hashed in one call: cheaper than
     * an update per entry */
    canon = (char *)skc_scratch_get(cr, 2, used + 7 + slen);
    if (canon == NULL)
        return luaL_error(L, "sign.eiotclub: out of memory");
    for (i = 0, clen = 0; i < n; i++) {
        memcpy(canon + clen, v[i].ptr, v[i].len);
        clen += v[i].len;
    }
    memcpy(canon + clen, "secret=", 7);
    memcpy(canon + clen + 7, secret, slen);
    ok = skc_digest(cr, SKC_SHA1, canon, clen + 7 + slen, md);
    OPENSSL_cleanse(canon + clen + 7, slen); /* no copy of the secret stays */
    if (!ok)
        return luaL_error(L, "sign.eiotclub: sha1 failed");
    skc_scratch_done(cr);
    skc_hex(md, sizeof md, hex, 1);
    lua_pushlstring(L, hex, sizeof hex);
    return 1;
}
