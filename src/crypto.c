/* Hashes, HMAC, hex and base64 over OpenSSL EVP.
 *
 * The digests (EVP_MD), the HMAC (EVP_MAC) and their contexts are fetched
 * once per Lua state, into a userdata that is the upvalue of every function
 * here and of the signers (skc_crypto_of); nothing lives in C statics
 * (OpenResty may run several Lua VMs in threads). An implicit fetch inside
 * EVP_Digest/HMAC on every call cost about half of a short digest. The last
 * HMAC key is kept (cleansed when replaced and on __gc) so that signing
 * again with the same key skips its key schedule. */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "simkit.h"

#define CRYPTO_MT "simkit.crypto.state"
#define SCRATCH_KEEP (256 * 1024) /* larger scratch buffers are freed after use */

struct skc_crypto {
    EVP_MD *sha1_owned, *sha256_owned; /* fetched here, freed by __gc */
    const EVP_MD *sha1, *sha256;       /* what is used: fetched, else the built-ins */
    EVP_MD_CTX *md;
    EVP_MAC *hmac;
    EVP_MAC_CTX *mac; /* keyed with `key` when keyed */
    unsigned char *key;
    size_t klen;
    int keyed;
    skc_scratch scratch[SKC_SCRATCH];
};

skc_crypto *skc_crypto_of(lua_State *L)
{
    return (skc_crypto *)lua_touserdata(L, lua_upvalueindex(1));
}

static void forget_key(skc_crypto *c)
{
    if (c->key) {
        OPENSSL_cleanse(c->key, c->klen);
        free(c->key);
    }
    c->key = NULL;
    c->klen = 0;
    c->keyed = 0;
}

static int crypto_gc(lua_State *L)
{
    skc_crypto *c = (skc_crypto *)lua_touserdata(L, 1);
    int i;
    forget_key(c);
    EVP_MAC_CTX_free(c->mac);
    EVP_MAC_free(c->hmac);
    EVP_MD_CTX_free(c->md);
    EVP_MD_free(c->sha1_owned);
    EVP_MD_free(c->sha256_owned);
    for (i = 0; i < SKC_SCRATCH; i++)
        free(c->scratch[i].p);
    memset(c, 0, sizeof *c);
    return 0;
}

/* Push the per-state crypto userdata. Fetch failures leave the built-in
 * digests and the one-shot HMAC in use: slower, same bytes. */
static void push_crypto(lua_State *L)
{
    skc_crypto *c = (skc_crypto *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    if (luaL_newmetatable(L, CRYPTO_MT)) {
        lua_pushcfunction(L, crypto_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    c->sha1_owned = EVP_MD_fetch(NULL, "SHA1", NULL);
    c->sha256_owned = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->sha1 = c->sha1_owned ? c->sha1_owned : EVP_sha1();
    c->sha256 = c->sha256_owned ? c->sha256_owned : EVP_sha256();
    c->md = EVP_MD_CTX_new();
    c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (c->hmac)
        c->mac = EVP_MAC_CTX_new(c->hmac);
    if (c->mac) {
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_MAC_CTX_set_params(c->mac, params) != 1) {
            EVP_MAC_CTX_free(c->mac);
            c->mac = NULL;
        }
    }
}

void *skc_scratch_get(skc_crypto *c, int which, size_t n)
{
    skc_scratch *s = &c->scratch[which];
    if (n > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        void *p;
        while (cap < n) {
            if (cap > ((size_t)-1) / 2)
                return NULL;
            cap *= 2;
        }
        p = realloc(s->p, cap);
        if (p == NULL)
            return NULL;
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

void skc_scratch_done(skc_crypto *c)
{
    int i;
    for (i = 0; i < SKC_SCRATCH; i++) {
        if (c->scratch[i].cap > SCRATCH_KEEP) {
            free(c->scratch[i].p);
            c->scratch[i].p = NULL;
            c->scratch[i].cap = 0;
        }
    }
}

int skc_digest_begin(skc_crypto *c, int which)
{
    const EVP_MD *md = which == SKC_SHA1 ? c->sha1 : c->sha256;
    return c->md != NULL && EVP_DigestInit_ex2(c->md, md, NULL) == 1;
}

int skc_digest_update(skc_crypto *c, const void *data, size_t len)
{
    return EVP_DigestUpdate(c->md, data, len) == 1;
}

int skc_digest_final(skc_crypto *c, unsigned char *out, size_t outlen)
{
    unsigned int n = 0;
    return EVP_DigestFinal_ex(c->md, out, &n) == 1 && n == outlen;
}

int skc_digest(skc_crypto *c, int which, const void *data, size_t len, unsigned char *out)
{
    return skc_digest_begin(c, which) && skc_digest_update(c, data, len) &&
           skc_digest_final(c, out, which == SKC_SHA1 ? 20 : 32);
}

int skc_hmac_sha256(skc_crypto *c, const void *key, size_t klen, const void *data, size_t len,
                    unsigned char out[32])
{
    size_t n = 0;
    if (c->mac == NULL) {
        unsigned int un = 0;
        return HMAC(c->sha256, key, (int)klen, data, len, out, &un) != NULL && un == 32;
    }
    if (c->keyed && klen == c->klen && CRYPTO_memcmp(key, c->key, klen) == 0) {
        if (EVP_MAC_init(c->mac, NULL, 0, NULL) != 1) /* the same key again */
            return 0;
    } else {
        forget_key(c);
        if (EVP_MAC_init(c->mac, (const unsigned char *)key, klen, NULL) != 1)
            return 0;
        c->key = (unsigned char *)malloc(klen ? klen : 1);
        if (c->key != NULL) {
            memcpy(c->key, key, klen);
            c->klen = klen;
            c->keyed = 1;
        }
    }
    return EVP_MAC_update(c->mac, (const unsigned char *)data, len) == 1 &&
           EVP_MAC_final(c->mac, out, &n, 32) == 1 && n == 32;
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

/* The digest `which` (n bytes: 20 SHA-1, 32 SHA-256) of argument 1, pushed
 * as push_digest says; `name` for the error. */
static int hash_arg(lua_State *L, int which, size_t n, const char *name)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char md[32];
    if (!skc_digest(skc_crypto_of(L), which, s, len, md))
        return luaL_error(L, "%s failed", name);
    return push_digest(L, md, n, 2);
}

/* core.sha1(data [, "raw"|"hex"|"HEX"]) */
static int l_sha1(lua_State *L)
{
    return hash_arg(L, SKC_SHA1, 20, "sha1");
}

/* core.sha256(data [, fmt]) */
static int l_sha256(lua_State *L)
{
    return hash_arg(L, SKC_SHA256, 32, "sha256");
}

/* core.hmac_sha256(key, data [, fmt]) */
static int l_hmac_sha256(lua_State *L)
{
    size_t klen, len;
    const char *k = luaL_checklstring(L, 1, &klen);
    const char *s = luaL_checklstring(L, 2, &len);
    unsigned char md[32];
    if (!skc_hmac_sha256(skc_crypto_of(L), k, klen, s, len, md))
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

/* core.equal_nocase(a, b): whether two strings are equal once ASCII letters
 * are folded to upper case, in a time that depends on their length only
 * (not on where they differ): for comparing signatures sent in hex. */
static int l_equal_nocase(lua_State *L)
{
    size_t na, nb, i;
    const unsigned char *a = (const unsigned char *)luaL_checklstring(L, 1, &na);
    const unsigned char *b = (const unsigned char *)luaL_checklstring(L, 2, &nb);
    unsigned diff = 0;
    if (na != nb) {
        lua_pushboolean(L, 0);
        return 1;
    }
    for (i = 0; i < na; i++) {
        unsigned x = a[i], y = b[i];
        x ^= (unsigned)(x - 'a' < 26u) << 5; /* a-z -> A-Z, without a branch */
        y ^= (unsigned)(y - 'a' < 26u) << 5;
        diff |= x ^ y;
    }
    lua_pushboolean(L, diff == 0);
    return 1;
}

static const luaL_Reg funcs[] = {
    { "equal_nocase", l_equal_nocase },
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

/* The functions that use the per-state crypto userdata (their upvalue):
 * these and the signers. */
void skc_open_crypto(lua_State *L)
{
    push_crypto(L); /* module, state */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, skc_sign_eiotclub, 1);
    lua_setfield(L, -3, "sign_eiotclub");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, skc_sign_huawei, 1);
    lua_setfield(L, -3, "sign_huawei");
    luaL_setfuncs(L, funcs, 1); /* pops the state */
}
