/* Hashes, HMAC, hex and base64 over OpenSSL EVP. */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "simkit.h"

int skc_sha1(const void *data, size_t len, unsigned char out[20])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha1(), NULL) == 1 && n == 20;
}

int skc_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

int skc_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n) != NULL && n == 32;
}

void skc_hex(const unsigned char *in, size_t len, char *out, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t i;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

/* Push a digest as raw bytes, or as hex when the optional argument says so. */
static int push_digest(lua_State *L, const unsigned char *md, size_t n, int fmt_idx)
{
    const char *fmt = luaL_optstring(L, fmt_idx, "raw");
    if (strcmp(fmt, "raw") == 0) {
        lua_pushlstring(L, (const char *)md, n);
    } else if (strcmp(fmt, "hex") == 0 || strcmp(fmt, "HEX") == 0) {
        char hex[128];
        skc_hex(md, n, hex, fmt[0] == 'H');
        lua_pushlstring(L, hex, 2 * n);
    } else {
        return luaL_argerror(L, fmt_idx, "expected \"raw\", \"hex\" or \"HEX\"");
    }
    return 1;
}

/* core.sha1(data [, "raw"|"hex"|"HEX"]) */
static int l_sha1(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char md[20];
    if (!skc_sha1(s, len, md))
        return luaL_error(L, "sha1 failed");
    return push_digest(L, md, sizeof md, 2);
}

/* core.sha256(data [, fmt]) */
static int l_sha256(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char md[32];
    if (!skc_sha256(s, len, md))
        return luaL_error(L, "sha256 failed");
    return push_digest(L, md, sizeof md, 2);
}

/* core.hmac_sha256(key, data [, fmt]) */
static int l_hmac_sha256(lua_State *L)
{
    size_t klen, len;
    const char *k = luaL_checklstring(L, 1, &klen);
    const char *s = luaL_checklstring(L, 2, &len);
    unsigned char md[32];
    if (!skc_hmac_sha256(k, klen, s, len, md))
        return luaL_error(L, "hmac-sha256 failed");
    return push_digest(L, md, sizeof md, 3);
}

/* core.hex(bytes [, upper]) */
static int l_hex(lua_State *L)
{
    size_t len, i;
    const char *s = luaL_checklstring(L, 1, &len);
    int upper = lua_toboolean(L, 2);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i++) {
        char two[2];
        skc_hex((const unsigned char *)s + i, 1, two, upper);
        luaL_addlstring(&b, two, 2);
    }
    luaL_pushresult(&b);
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* core.unhex(text) -> bytes | nil, err */
static int l_unhex(lua_State *L)
{
    size_t len, i;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    if (len % 2) {
        lua_pushnil(L);
        lua_pushliteral(L, "hex: odd length");
        return 2;
    }
    for (i = 0; i < len; i++) {
        if (hexval((unsigned char)s[i]) < 0) {
            lua_pushnil(L);
            lua_pushfstring(L, "hex: invalid character at byte %d", (int)i + 1);
            return 2;
        }
    }
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i += 2)
        luaL_addchar(&b, (char)(hexval((unsigned char)s[i]) * 16 + hexval((unsigned char)s[i + 1])));
    luaL_pushresult(&b);
    return 1;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* core.base64_encode(bytes) */
static int l_b64enc(lua_State *L)
{
    size_t len, i;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char q[4] = { B64[v >> 18], B64[(v >> 12) & 63], B64[(v >> 6) & 63], B64[v & 63] };
        luaL_addlstring(&b, q, 4);
    }
    if (len - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        char q[4] = { B64[v >> 18], B64[(v >> 12) & 63], '=', '=' };
        luaL_addlstring(&b, q, 4);
    } else if (len - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        char q[4] = { B64[v >> 18], B64[(v >> 12) & 63], B64[(v >> 6) & 63], '=' };
        luaL_addlstring(&b, q, 4);
    }
    luaL_pushresult(&b);
    return 1;
}

static int b64val(int c)
{
    const char *p;
    if (c == 0)
        return -1;
    p = strchr(B64, c);
    return p ? (int)(p - B64) : -1;
}

/* core.base64_decode(text) -> bytes | nil, err (strict: padded, no whitespace) */
static int l_b64dec(lua_State *L)
{
    size_t len, i;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    if (len % 4) {
        lua_pushnil(L);
        lua_pushliteral(L, "base64: length is not a multiple of 4");
        return 2;
    }
    for (i = 0; i < len; i++) {
        int pad_ok = (s[i] == '=') && (i == len - 1 || (i == len - 2 && s[len - 1] == '='));
        if (b64val((unsigned char)s[i]) < 0 && !pad_ok) {
            lua_pushnil(L);
            lua_pushfstring(L, "base64: invalid character at byte %d", (int)i + 1);
            return 2;
        }
    }
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i += 4) {
        int a = b64val((unsigned char)s[i]), c1 = b64val((unsigned char)s[i + 1]);
        int c2 = s[i + 2] == '=' ? 0 : b64val((unsigned char)s[i + 2]);
        int c3 = s[i + 3] == '=' ? 0 : b64val((unsigned char)s[i + 3]);
        unsigned v = (unsigned)a << 18 | (unsigned)c1 << 12 | (unsigned)c2 << 6 | (unsigned)c3;
        luaL_addchar(&b, (char)(v >> 16));
        if (s[i + 2] != '=')
            luaL_addchar(&b, (char)((v >> 8) & 255));
        if (s[i + 3] != '=')
            luaL_addchar(&b, (char)(v & 255));
    }
    luaL_pushresult(&b);
    return 1;
}

/* core.random_bytes(n): from OpenSSL's CSPRNG (nonces). */
static int l_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char buf[1024];
    luaL_argcheck(L, n >= 0 && n <= (lua_Integer)sizeof buf, 1, "0..1024 bytes");
    if (n > 0 && RAND_bytes(buf, (int)n) != 1)
        return luaL_error(L, "RAND_bytes failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

static const luaL_Reg funcs[] = {
    { "sha1", l_sha1 },
    { "sha256", l_sha256 },
    { "hmac_sha256", l_hmac_sha256 },
    { "hex", l_hex },
    { "unhex", l_unhex },
    { "base64_encode", l_b64enc },
    { "base64_decode", l_b64dec },
    { "random_bytes", l_random_bytes },
    { NULL, NULL },
};

void skc_open_crypto(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
}
