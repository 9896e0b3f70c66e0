/* Hashes, HMAC, hex and base64 over OpenSSL.
 *
 * SHA-1 and SHA-256 use OpenSSL's one-algorithm API (SHA256_Init/Update/
 * Final, deprecated in 3.0 but kept, with the same assembly block functions
 * as EVP): a signature hashes a few hundred bytes, and EVP's per-call
 * provider dispatch (context init, a malloc'd context duplicated per HMAC,
 * size queries) cost as much as a third of SHA-256's own work there.
 * Its state lives in a userdata per Lua state, the upvalue of every
 * function here and of the signers (skc_crypto_of); nothing lives in C
 * statics (OpenResty may run several Lua VMs in threads). HMAC-SHA256 keeps
 * the last key's inner and outer SHA-256 states (the key XOR ipad/opad
 * block absorbed), so that signing again with the same key hashes only the
 * message; the key copy and both states are cleansed when the key changes
 * and on __gc, and nothing of them is reachable from Lua. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA*_Init/Update/Final: see above */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "simkit.h"

#define CRYPTO_MT "simkit.crypto.state"
#define SCRATCH_KEEP (256 * 1024) /* larger scratch buffers are freed after use */
#define HMAC_BLOCK 64             /* SHA-256's block: the HMAC key block */

struct skc_crypto {
    int which;                /* the digest begun: SKC_SHA1 or SKC_SHA256 */
    union { SHA_CTX sha1; SHA256_CTX sha256; } md;
    SHA256_CTX ipad, opad;    /* the HMAC key's states, when keyed */
    unsigned char *key;       /* a copy of that key (to compare) */
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
    OPENSSL_cleanse(&c->ipad, sizeof c->ipad);
    OPENSSL_cleanse(&c->opad, sizeof c->opad);
    c->key = NULL;
    c->klen = 0;
    c->keyed = 0;
}

static int crypto_gc(lua_State *L)
{
    skc_crypto *c = (skc_crypto *)lua_touserdata(L, 1);
    int i;
    forget_key(c);
    for (i = 0; i < SKC_SCRATCH; i++)
        free(c->scratch[i].p);
    OPENSSL_cleanse(c, sizeof *c); /* the last digest's state included */
    return 0;
}

/* Push the per-state crypto userdata. */
static void push_crypto(lua_State *L)
{
    skc_crypto *c = (skc_crypto *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    if (luaL_newmetatable(L, CRYPTO_MT)) {
        lua_pushcfunction(L, crypto_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
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
    c->which = which;
    return which == SKC_SHA1 ? SHA1_Init(&c->md.sha1) == 1 : SHA256_Init(&c->md.sha256) == 1;
}

/* SHA*_Update take any length (len 0 too). */
int skc_digest_update(skc_crypto *c, const void *data, size_t len)
{
    return c->which == SKC_SHA1 ? SHA1_Update(&c->md.sha1, data, len) == 1
                                : SHA256_Update(&c->md.sha256, data, len) == 1;
}

int skc_digest_final(skc_crypto *c, unsigned char *out, size_t outlen)
{
    if (c->which == SKC_SHA1)
        return outlen == SHA_DIGEST_LENGTH && SHA1_Final(out, &c->md.sha1) == 1;
    return outlen == SHA256_DIGEST_LENGTH && SHA256_Final(out, &c->md.sha256) == 1;
}

int skc_digest(skc_crypto *c, int which, const void *data, size_t len, unsigned char *out)
{
    return skc_digest_begin(c, which) && skc_digest_update(c, data, len) &&
           skc_digest_final(c, out, which == SKC_SHA1 ? 20 : 32);
}

/* Key the HMAC states with key (RFC 2104: a key longer than the block is
 * hashed first; the block is the key zero-padded, XOR 0x36 for the inner
 * state, 0x5c for the outer), keeping a copy of the key to recognise it. */
static int set_key(skc_crypto *c, const unsigned char *key, size_t klen)
{
    unsigned char block[HMAC_BLOCK], pad[HMAC_BLOCK];
    size_t i;
    int ok;
    forget_key(c);
    memset(block, 0, sizeof block);
    if (klen > HMAC_BLOCK)
        SHA256(key, klen, block);
    else if (klen > 0)
        memcpy(block, key, klen);
    for (i = 0; i < HMAC_BLOCK; i++)
        pad[i] = (unsigned char)(block[i] ^ 0x36);
    ok = SHA256_Init(&c->ipad) == 1 && SHA256_Update(&c->ipad, pad, HMAC_BLOCK) == 1;
    for (i = 0; i < HMAC_BLOCK; i++)
        pad[i] = (unsigned char)(block[i] ^ 0x5c);
    ok = ok && SHA256_Init(&c->opad) == 1 && SHA256_Update(&c->opad, pad, HMAC_BLOCK) == 1;
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (ok)
        c->key = (unsigned char *)malloc(klen ? klen : 1);
    if (c->key == NULL) {
        forget_key(c);
        return 0;
    }
    memcpy(c->key, key, klen);
    c->klen = klen;
    c->keyed = 1;
    return 1;
}

int skc_hmac_sha256(skc_crypto *c, const void *key, size_t klen, const void *data, size_t len,
                    unsigned char out[32])
{
    SHA256_CTX h;
    unsigned char inner[SHA256_DIGEST_LENGTH];
    int ok;
    if (!(c->keyed && klen == c->klen && CRYPTO_memcmp(key, c->key, klen) == 0) &&
        !set_key(c, (const unsigned char *)key, klen))
        return 0;
    h = c->ipad;
    ok = SHA256_Update(&h, data, len) == 1 && SHA256_Final(inner, &h) == 1;
    h = c->opad;
    ok = ok && SHA256_Update(&h, inner, sizeof inner) == 1 && SHA256_Final(out, &h) == 1;
    OPENSSL_cleanse(&h, sizeof h);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok;
}

/* The 256 bytes' two hex digits, lower and upper case: one 2-byte copy a
 * byte. */
#define HEX_ROW(h, a, b, c, d, e, f) h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" \
    h a h b h c h d h e h f
#define HEX_ALL(a, b, c, d, e, f) HEX_ROW("0", a, b, c, d, e, f) HEX_ROW("1", a, b, c, d, e, f) \
    HEX_ROW("2", a, b, c, d, e, f) HEX_ROW("3", a, b, c, d, e, f) HEX_ROW("4", a, b, c, d, e, f) \
    HEX_ROW("5", a, b, c, d, e, f) HEX_ROW("6", a, b, c, d, e, f) HEX_ROW("7", a, b, c, d, e, f) \
    HEX_ROW("8", a, b, c, d, e, f) HEX_ROW("9", a, b, c, d, e, f) HEX_ROW(a, a, b, c, d, e, f) \
    HEX_ROW(b, a, b, c, d, e, f) HEX_ROW(c, a, b, c, d, e, f) HEX_ROW(d, a, b, c, d, e, f) \
    HEX_ROW(e, a, b, c, d, e, f) HEX_ROW(f, a, b, c, d, e, f)
static const char HEX_LOWER[] = HEX_ALL("a", "b", "c", "d", "e", "f");
static const char HEX_UPPER[] = HEX_ALL("A", "B", "C", "D", "E", "F");

void skc_hex(const unsigned char *in, size_t len, char *out, int upper)
{
    const char *pairs = upper ? HEX_UPPER : HEX_LOWER;
    size_t i;
    for (i = 0; i < len; i++)
        memcpy(out + 2 * i, pairs + 2 * in[i], 2);
}

int skc_hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
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
        if (skc_hex_value((unsigned char)s[i]) < 0) {
            lua_pushnil(L);
            lua_pushfstring(L, "hex: invalid character at byte %d", (int)i + 1);
            return 2;
        }
    }
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i += 2)
        luaL_addchar(&b, (char)(skc_hex_value((unsigned char)s[i]) * 16 + skc_hex_value((unsigned char)s[i + 1])));
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

/* core.is_hex(s): whether s holds hex digits only (either case; "" too).
 * A C loop: Lua's pattern "[^%x]" costs ~6k instructions for 40 bytes on
 * LuaJIT, an eighth of a webhook notification's whole cost. */
static int l_is_hex(lua_State *L)
{
    size_t n, i;
    const char *s = luaL_checklstring(L, 1, &n);
    for (i = 0; i < n; i++)
        if (skc_hex_value((unsigned char)s[i]) < 0)
            break;
    lua_pushboolean(L, i == n);
    return 1;
}

static const luaL_Reg funcs[] = {
    { "equal_nocase", l_equal_nocase },
    { "is_hex", l_is_hex },
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
    int n;
    push_crypto(L); /* module, state */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, skc_sign_eiotclub, 1);
    lua_setfield(L, -3, "sign_eiotclub");
    lua_pushvalue(L, -1);
    for (n = 0; skc_huawei_names[n] != NULL; n++)
        lua_pushstring(L, skc_huawei_names[n]);
    lua_pushcclosure(L, skc_sign_huawei, 1 + n);
    lua_setfield(L, -3, "sign_huawei");
    luaL_setfuncs(L, funcs, 1); /* pops the state */
}
