/* simkit core: strict RFC 8259 JSON with exact 64-bit integers.
 *
 *   json_decode(text)  -> value | nil, err
 *   json_encode(value) -> text  | nil, err
 *   json_null          the null sentinel: a light userdata NULL (the same
 *                      value as cjson.null and ngx.null)
 *   json_array_mt      metatable marking a table as a JSON array
 *
 * Decoding is a single pass of a recursive-descent parser over the input.
 * Object keys come from a small cache per Lua state when they were seen
 * before (see dec_push_key).
 * Integers (no fraction, no exponent) become lua_Integer when they fit
 * (int64 on Lua 5.3+, |n| <= 2^53 on Lua 5.1/LuaJIT where they become
 * exact doubles); an integer that does not fit is returned as its exact
 * decimal text (a Lua string) rather than rounded. Numbers with a fraction
 * or an exponent become doubles, converted without regard to LC_NUMERIC.
 * Arrays get json_array_mt so that an empty array stays an array; null
 * becomes json_null so that arrays keep their length.
 *
 * Encoding writes into one buffer per Lua state, reused from call to call
 * (an upvalue of json_encode; a fresh userdata buffer per call made LuaJIT
 * map and unmap pages on every encode). It is owned by a userdata whose
 * __gc frees it, so a Lua error (out of memory) cannot leak it; during an
 * encode the upvalue is false, so a nested encode (from a finalizer) uses a
 * buffer of its own; one that grew past JSON_KEEPBUF is freed after use. Object keys are sorted bytewise
 * for a deterministic output. Bad data (functions, NaN, invalid UTF-8, mixed
 * or sparse tables, cycles) gives nil and a message naming the problem and
 * where it is ("at $.data.list[3].iccid", Lua indexes).
 *
 * Nothing here lives in C statics except constant tables. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simkit.h"

/* Deepest nesting of arrays/objects accepted by decode and encode. */
#define JSON_MAX_DEPTH 1000

#define JSON_ERRLEN 256

#if defined(__GNUC__)
#define JSON_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JSON_PRINTF(f, a)
#endif

#if SKC_HAS_INT64
typedef lua_Integer json_index;
#else
typedef int json_index;
#endif

/* 1 for the bytes that can be copied as they are inside a JSON string:
 * 0x20..0x7F except '"' and '\\'. Control characters need an escape and
 * bytes >= 0x80 start a UTF-8 sequence that must be checked. */
static const unsigned char json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static const char json_hexdigits[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence (RFC 3629) starting at p, or 0:
 * no overlongs, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
 * truncated sequence. */
static size_t json_utf8_len(const unsigned char *p, const unsigned char *e)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0; /* continuation byte, or overlong 2-byte lead */
    if (c < 0xE0) {
        if (e - p < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xF0) {
        if (e - p < 3)
            return 0;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (e - p < 4)
            return 0;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Decoder
 * ------------------------------------------------------------------------ */

#ifndef JSON_KEYCACHE_BITS /* -DJSON_KEYCACHE_BITS=2 makes collisions the rule (fuzzing) */
#define JSON_KEYCACHE_BITS 9
#endif
#define JSON_KEYCACHE (1 << JSON_KEYCACHE_BITS)
#define JSON_KEYMAX 40
#define JSON_KEYNONE 0xFF /* the length of an empty slot */

typedef struct {
    unsigned char len;
    unsigned char b[JSON_KEYMAX];
    unsigned short next; /* the slot + 1 of the key that came after this one, or 0 */
} json_keyslot;

typedef struct {
    lua_State *L;
    const unsigned char *s; /* start of the text */
    const unsigned char *p; /* cursor */
    const unsigned char *e; /* end of the text: a '\0' is there (the text is
                             * a Lua string), so a look at *p needs no p < e
                             * when a '\0' is no match */
    int depth;
    int scratch_idx;        /* stack slot of the scratch userdata */
    int keys_idx;           /* stack slot of the key cache's strings */
    json_keyslot *keys;     /* and their bytes (one more: its next is the first key's) */
    unsigned key_slot;      /* the slot + 1 of the key pushed last, or 0 (not cached) */
    unsigned char *scratch; /* for strings with escapes, long numbers */
    size_t scratch_cap;
    char err[JSON_ERRLEN];
} json_dec;

static int dec_fail(json_dec *d, const unsigned char *at, const char *fmt, ...) JSON_PRINTF(3, 4);

/* Formats "json: <message> at byte N" (N 1-based) into d->err; returns 0. */
static int dec_fail(json_dec *d, const unsigned char *at, const char *fmt, ...)
{
    va_list ap;
    int n;
    memcpy(d->err, "json: ", 6);
    va_start(ap, fmt);
    n = vsnprintf(d->err + 6, sizeof d->err - 6, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    n += 6;
    if ((size_t)n < sizeof d->err)
        snprintf(d->err + n, sizeof d->err - (size_t)n, " at byte %zu", (size_t)(at - d->s) + 1);
    return 0;
}

/* "unexpected character 'x'", "unexpected byte 0x01" or "unexpected end of input". */
static int dec_unexpected(json_dec *d, const unsigned char *at)
{
    if (at >= d->e)
        return dec_fail(d, at, "unexpected end of input");
    if (*at >= 0x20 && *at < 0x7F)
        return dec_fail(d, at, "unexpected character '%c'", *at);
    return dec_fail(d, at, "unexpected byte 0x%02X", *at);
}

static void dec_skip_ws(json_dec *d)
{
    const unsigned char *p = d->p;
    while (*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

/* Makes the scratch buffer at least n bytes (a userdata kept on the stack,
 * so it is collected whatever happens). */
static unsigned char *dec_scratch(json_dec *d, size_t n)
{
    if (n > d->scratch_cap) {
        size_t cap = d->scratch_cap ? d->scratch_cap : 256;
        while (cap < n)
            cap = cap * 2 > cap ? cap * 2 : n;
        d->scratch = (unsigned char *)lua_newuserdata(d->L, cap);
        lua_replace(d->L, d->scratch_idx);
        d->scratch_cap = cap;
    }
    return d->scratch;
}

static int dec_hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Decodes the \u escape at q (q[0] == '\\', q[1] == 'u'), a surrogate pair
 * taking two escapes, into UTF-8 at *w. Returns the escape's length in the
 * input, or 0 (error set). */
static size_t dec_unicode_escape(json_dec *d, const unsigned char *q, unsigned char **w)
{
    unsigned cp, lo;
    size_t used = 6;
    unsigned char *o = *w;
    if (d->e - q < 6 || !dec_hex4(q + 2, &cp)) {
        dec_fail(d, q, "invalid \\u escape (four hex digits expected)");
        return 0;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        dec_fail(d, q, "lone low surrogate \\u%04X", cp);
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (d->e - q < 12 || q[6] != '\\' || q[7] != 'u' || !dec_hex4(q + 8, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF) {
            dec_fail(d, q, "lone high surrogate \\u%04X", cp);
            return 0;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 12;
    }
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | (cp >> 6));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | (cp >> 12));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | (cp >> 18));
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *w = o;
    return used;
}

/* Object keys repeat: the same few dozen names in every answer, in every
 * element of a list. Interning one costs Lua 5.4 a hash of every byte, a
 * walk of the string table and often an allocation, so each Lua state keeps
 * the keys it decoded last in a cache of JSON_KEYCACHE slots (fixed): a
 * table holding the strings and, in a userdata, a copy of each one's bytes
 * to compare against (two upvalues of json_decode). A slot is picked by a
 * hash of the key's length and of up to 24 of its bytes; a key is pushed
 * from its slot when the slot holds the same bytes (compared in full, so a
 * collision only costs a miss), else it is interned and replaces the slot's
 * string. Only keys without escapes (their bytes are the input's) and of at
 * most JSON_KEYMAX bytes (Lua's short strings) are cached. */
/* The n (<= 8) bytes at p as a number (for hashing and comparing). */
static uint64_t json_load(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

static size_t key_slot(const unsigned char *p, size_t n)
{
    uint64_t h;
    if (n >= 8) {
        h = json_load(p, 8) ^ (json_load(p + n - 8, 8) * 0x9E3779B97F4A7C15ULL);
        if (n > 16)
            h += json_load(p + n / 2 - 4, 8) * 0xC2B2AE3D27D4EB4FULL;
    } else if (n >= 4) {
        h = json_load(p, 4) | (json_load(p + n - 4, 4) << 32);
    } else {
        h = n ? (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16 : 0;
    }
    h = (h ^ n) * 0xFF51AFD7ED558CCDULL;
    return (size_t)(h >> (64 - JSON_KEYCACHE_BITS));
}

/* Whether the n bytes at a and b are equal (n <= JSON_KEYMAX), by words of
 * 8 (or 4) bytes, the last one overlapping its predecessor. */
static int key_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
    size_t i;
    if (n < 4) {
        for (i = 0; i < n; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    if (n < 8)
        return json_load(a, 4) == json_load(b, 4) && json_load(a + n - 4, 4) == json_load(b + n - 4, 4);
    for (i = 0; i + 8 < n; i += 8)
        if (json_load(a + i, 8) != json_load(b + i, 8))
            return 0;
    return json_load(a + n - 8, 8) == json_load(b + n - 8, 8);
}

/* Pushes the key [p, p + n) (no escapes, n <= JSON_KEYMAX) from the cache,
 * or interns it and caches it. */
static void dec_push_key(json_dec *d, const unsigned char *p, size_t n)
{
    lua_State *L = d->L;
    size_t i = key_slot(p, n);
    json_keyslot *k = &d->keys[i];
    d->key_slot = (unsigned)i + 1;
    if (k->len == n && key_equal(k->b, p, n)) {
        lua_rawgeti(L, d->keys_idx, (int)i + 1);
        return;
    }
    k->len = JSON_KEYNONE; /* until the table holds the new string */
    lua_pushlstring(L, (const char *)p, n);
    lua_pushvalue(L, -1);
    lua_rawseti(L, d->keys_idx, (int)i + 1);
    memcpy(k->b, p, n);
    k->len = (unsigned char)n;
    k->next = 0;
}

/* Objects of one shape repeat their keys in the same order, so each cached
 * key remembers the one that came after it (and a slot past the last one
 * the first key of an object). A key at d->p ('"') that is the bytes of the
 * key predicted after the slot prev (+ 1), followed by its closing quote,
 * is that key: the cached bytes hold no quote, backslash or control byte
 * and are valid UTF-8. Pushes it and returns 1, else returns 0. */
static int dec_predicted_key(json_dec *d, unsigned prev)
{
    const unsigned char *start = d->p + 1;
    unsigned s = d->keys[prev - 1].next;
    const json_keyslot *k;
    size_t n;
    if (s == 0)
        return 0;
    k = &d->keys[s - 1];
    n = k->len;
    if (n > JSON_KEYMAX || (size_t)(d->e - start) < n || start[n] != '"' || !key_equal(k->b, start, n))
        return 0;
    lua_rawgeti(d->L, d->keys_idx, (int)s);
    d->p = start + n + 1;
    d->key_slot = s;
    return 1;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_ONES 0x0101010101010101ULL
#define JSON_HIGH 0x8080808080808080ULL
/* The first byte at or after q that is not json_plain (or e): eight bytes
 * at a time, each word's high bits marking its bytes < 0x20, '"', '\\' and
 * >= 0x80 (a borrow may mark bytes after a marked one, never before it: the
 * lowest mark is exact). */
static const unsigned char *skip_plain(const unsigned char *q, const unsigned char *e)
{
    while (e - q >= 8) {
        uint64_t w = json_load(q, 8);
        uint64_t quote = w ^ (JSON_ONES * '"'), bslash = w ^ (JSON_ONES * '\\');
        uint64_t m = ((w - JSON_ONES * 0x20) | (quote - JSON_ONES) | (bslash - JSON_ONES)) & ~w & JSON_HIGH;
        /* ~w above cleared the marks of the bytes >= 0x80: they are marked by w itself */
        m |= w & JSON_HIGH;
        if (m)
            return q + (__builtin_ctzll(m) >> 3);
        q += 8;
    }
    while (q < e && json_plain[*q])
        q++;
    return q;
}
#else
static const unsigned char *skip_plain(const unsigned char *q, const unsigned char *e)
{
    while (q < e && json_plain[*q])
        q++;
    return q;
}
#endif

/* The string starting at d->p ('"'); pushes it. An object key (is_key) may
 * come from the key cache. */
static int dec_string(json_dec *d, int is_key)
{
    const unsigned char *open = d->p, *e = d->e;
    const unsigned char *start = open + 1, *q = start, *r;
    unsigned char *buf, *w;
    size_t n;

    /* Fast path: no escape, pushed straight from the input. */
    for (;;) {
        q = skip_plain(q, e);
        if (q >= e)
            return dec_fail(d, open, "unterminated string");
        if (*q == '"') {
            n = (size_t)(q - start);
            if (is_key && n <= JSON_KEYMAX)
                dec_push_key(d, start, n);
            else
                lua_pushlstring(d->L, (const char *)start, n);
            d->p = q + 1;
            return 1;
        }
        if (*q == '\\')
            break;
        if (*q < 0x20)
            return dec_fail(d, q, "unescaped control character 0x%02X in string", *q);
        n = json_utf8_len(q, e);
        if (n == 0)
            return dec_fail(d, q, "invalid UTF-8 in string");
        q += n;
    }

    /* Slow path. The decoded string is never longer than its source (every
     * escape shrinks), so bound the source first and size the buffer once. */
    for (r = q; r < e && *r != '"'; r++)
        if (*r == '\\')
            r++;
    if (r > e)
        r = e;
    buf = dec_scratch(d, (size_t)(r - start));
    memcpy(buf, start, (size_t)(q - start));
    w = buf + (q - start);
    for (;;) {
        while (q < e && json_plain[*q])
            *w++ = *q++;
        if (q >= e)
            return dec_fail(d, open, "unterminated string");
        if (*q == '"')
            break;
        if (*q == '\\') {
            if (q + 1 >= e)
                return dec_fail(d, open, "unterminated string");
            switch (q[1]) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '/': *w++ = '/'; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u':
                n = dec_unicode_escape(d, q, &w);
                if (n == 0)
                    return 0;
                q += n;
                continue;
            default:
                if (q[1] >= 0x20 && q[1] < 0x7F)
                    return dec_fail(d, q, "invalid escape '\\%c' in string", q[1]);
                return dec_fail(d, q, "invalid escape (backslash before byte 0x%02X) in string", q[1]);
            }
            q += 2;
            continue;
        }
        if (*q < 0x20)
            return dec_fail(d, q, "unescaped control character 0x%02X in string", *q);
        n = json_utf8_len(q, e);
        if (n == 0)
            return dec_fail(d, q, "invalid UTF-8 in string");
        memcpy(w, q, n);
        w += n;
        q += n;
    }
    lua_pushlstring(d->L, (const char *)buf, (size_t)(w - buf));
    d->p = q + 1;
    return 1;
}

/* Exact powers of ten for the fast float path. */
static const double json_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* strtod for a validated JSON number [a, b), whatever LC_NUMERIC says:
 * copy it with '.' replaced by the locale's decimal point. */
static int dec_strtod(json_dec *d, const unsigned char *a, const unsigned char *b, double *out)
{
    const char *dp = localeconv()->decimal_point;
    size_t dplen, need;
    char local[128], *buf, *o, *end;
    const unsigned char *q;
    if (!dp || !*dp)
        dp = ".";
    dplen = strlen(dp);
    need = (size_t)(b - a) + dplen + 1;
    buf = need <= sizeof local ? local : (char *)dec_scratch(d, need);
    o = buf;
    for (q = a; q < b; q++) {
        if (*q == '.') {
            memcpy(o, dp, dplen);
            o += dplen;
        } else {
            *o++ = (char)*q;
        }
    }
    *o = '\0';
    *out = strtod(buf, &end);
    if (end != o)
        return dec_fail(d, a, "cannot convert number");
    return 1;
}

/* The number starting at d->p; pushes it. */
static int dec_number(json_dec *d)
{
    const unsigned char *a = d->p, *p = d->p;
    int neg = 0, isfloat = 0, nsig = 0, many = 0;
    unsigned long long m = 0;
    long exp10 = 0, ex = 0;
    int exneg = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p < '0' || *p > '9') {
        if (*p >= 0x20 && *p < 0x7F)
            return dec_fail(d, p, "invalid number (digit expected after '-', found '%c')", *p);
        return dec_fail(d, p, "invalid number (digit expected after '-')");
    }
    if (*p == '0') {
        p++;
        if (*p >= '0' && *p <= '9')
            return dec_fail(d, p - 1, "invalid number (leading zero)");
    } else {
        for (; *p >= '0' && *p <= '9'; p++) {
            if (nsig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                nsig++;
            } else {
                many = 1;
            }
        }
    }
    if (*p == '.') {
        isfloat = 1;
        p++;
        if (*p < '0' || *p > '9')
            return dec_fail(d, p, "invalid number (digit expected after '.')");
        for (; *p >= '0' && *p <= '9'; p++) {
            if (m == 0 && *p == '0') {
                exp10--; /* leading zero of the fraction */
            } else if (nsig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                nsig++;
                exp10--;
            } else {
                many = 1;
            }
        }
    }
    if (*p == 'e' || *p == 'E') {
        isfloat = 1;
        p++;
        if (*p == '+' || *p == '-') {
            exneg = *p == '-';
            p++;
        }
        if (*p < '0' || *p > '9')
            return dec_fail(d, p, "invalid number (digit expected in exponent)");
        for (; *p >= '0' && *p <= '9'; p++)
            if (ex < 100000)
                ex = ex * 10 + (*p - '0');
        exp10 += exneg ? -ex : ex;
    }
    d->p = p;

    if (!isfloat) {
        /* m holds every digit unless there are more than 19 of them. */
#if SKC_HAS_INT64
        if (!many) {
            if (!neg && m <= 9223372036854775807ULL) {
                lua_pushinteger(d->L, (lua_Integer)m);
                return 1;
            }
            if (neg && m <= 9223372036854775808ULL) {
                lua_pushinteger(d->L, m == 9223372036854775808ULL
                                          ? (lua_Integer)(-9223372036854775807LL - 1)
                                          : -(lua_Integer)m);
                return 1;
            }
        }
#else
        if (!many && m <= 9007199254740992ULL) {
            lua_pushnumber(d->L, neg && m ? -(lua_Number)(long long)m : (lua_Number)(long long)m);
            return 1;
        }
#endif
        /* Too large for a Lua integer: keep the exact text. */
        lua_pushlstring(d->L, (const char *)a, (size_t)(p - a));
        return 1;
    }

    {
        double v;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        /* Both operands exact, one rounding: the correctly rounded result. */
        if (!many && m <= 9007199254740992ULL && exp10 >= -22 && exp10 <= 22) {
            v = (double)m;
            v = exp10 < 0 ? v / json_pow10[-exp10] : v * json_pow10[exp10];
            lua_pushnumber(d->L, neg ? -v : v);
            return 1;
        }
#endif
        if (!dec_strtod(d, a, p, &v))
            return 0;
        if (v == HUGE_VAL || v == -HUGE_VAL)
            return dec_fail(d, a, "number out of range");
        lua_pushnumber(d->L, (lua_Number)v);
        return 1;
    }
}

/* The literal lit (len 4 or 5) at d->p. */
static int dec_literal(json_dec *d, const char *lit, size_t len)
{
    size_t i;
    if ((size_t)(d->e - d->p) >= len && memcmp(d->p, lit, len) == 0) {
        d->p += len;
        return 1;
    }
    for (i = 0; d->p[i] == (unsigned char)lit[i]; i++) /* stops at the '\0' at e */
        ;
    return dec_unexpected(d, d->p + i);
}

static int dec_value(json_dec *d);

static int dec_enter(json_dec *d)
{
    if (d->depth >= JSON_MAX_DEPTH || !lua_checkstack(d->L, 6))
        return dec_fail(d, d->p, "nesting too deep");
    d->depth++;
    d->p++;
    return 1;
}

/* Members of an array or object are held on the Lua stack (up to
 * JSON_BATCH of them, room for them made once, when the stack has it) and
 * the table is made with their count: no rehash while it fills. A longer
 * array or object gets a table sized for twice the batch, then the rest is
 * set as it comes. Only the outer JSON_BATCH_DEPTH levels hold members, so
 * that the deepest nesting allowed still fits LuaJIT's stack. */
#define JSON_BATCH 32
#define JSON_BATCH_DEPTH 16
#define JSON_BATCH_SLOTS (2 * JSON_BATCH + 8) /* the pairs, a flush, a value */

/* Whether the container being entered holds its members (the table is
 * made after them): at the outer levels, when the stack has room. */
static int dec_holds(json_dec *d)
{
    return d->depth <= JSON_BATCH_DEPTH && lua_checkstack(d->L, JSON_BATCH_SLOTS);
}

/* Make the table for the `n` values (arrays) or key/value pairs (objects)
 * above `base`, move it to base + 1 and drop the held values. */
static void dec_flush(lua_State *L, int base, int n, int is_array, int more)
{
    int i, t, size = more ? 2 * n : n;
    if (is_array) {
        lua_createtable(L, size, 0);
        t = lua_gettop(L);
        for (i = 0; i < n; i++) {
            lua_pushvalue(L, base + 1 + i);
            lua_rawseti(L, t, i + 1);
        }
    } else {
        lua_createtable(L, 0, size);
        t = lua_gettop(L);
        for (i = 0; i < n; i++) {
            lua_pushvalue(L, base + 1 + 2 * i);
            lua_pushvalue(L, base + 2 + 2 * i);
            lua_rawset(L, t); /* a duplicate key: the last one wins */
        }
    }
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
}

static int dec_array(json_dec *d)
{
    lua_State *L = d->L;
    json_index i = 1;
    int base, held; /* held: values still on the stack, table not made */
    if (!dec_enter(d))
        return 0;
    base = lua_gettop(L);
    dec_skip_ws(d);
    if (*d->p == ']') {
        d->p++;
        lua_createtable(L, 0, 0);
    } else {
        held = dec_holds(d);
        if (!held)
            lua_createtable(L, 0, 0);
        for (;;) {
            if (!dec_value(d))
                return 0;
#if !SKC_HAS_INT64
            if (i == 0x7FFFFFFF)
                return dec_fail(d, d->p, "array too long");
#endif
            if (held) {
                if (i >= JSON_BATCH) {
                    dec_flush(L, base, (int)i, 1, 1);
                    held = 0;
                }
                i++;
            } else {
                lua_rawseti(L, base + 1, i++);
            }
            dec_skip_ws(d);
            if (*d->p == ',') {
                d->p++;
                continue;
            }
            if (*d->p == ']') {
                d->p++;
                break;
            }
            return dec_unexpected(d, d->p);
        }
        if (held)
            dec_flush(L, base, (int)(i - 1), 1, 0);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
    d->depth--;
    return 1;
}

static int dec_object(json_dec *d)
{
    lua_State *L = d->L;
    int base, n = 0, held;
    unsigned prev = JSON_KEYCACHE + 1; /* before the first key */
    if (!dec_enter(d))
        return 0;
    base = lua_gettop(L);
    dec_skip_ws(d);
    if (*d->p == '}') {
        d->p++;
        d->depth--;
        lua_createtable(L, 0, 0);
        return 1;
    }
    held = dec_holds(d);
    if (!held)
        lua_createtable(L, 0, 0);
    for (;;) {
        dec_skip_ws(d);
        if (*d->p != '"')
            return dec_unexpected(d, d->p);
        if (prev == 0 || !dec_predicted_key(d, prev)) {
            d->key_slot = 0;
            if (!dec_string(d, 1))
                return 0;
            if (prev)
                d->keys[prev - 1].next = (unsigned short)d->key_slot;
        }
        prev = d->key_slot;
        dec_skip_ws(d);
        if (*d->p != ':')
            return dec_unexpected(d, d->p);
        d->p++;
        if (!dec_value(d))
            return 0;
        if (held) {
            n++;
            if (n >= JSON_BATCH) {
                dec_flush(L, base, n, 0, 1);
                held = 0;
            }
        } else {
            lua_rawset(L, base + 1); /* a duplicate key: the last one wins */
        }
        dec_skip_ws(d);
        if (*d->p == ',') {
            d->p++;
            continue;
        }
        if (*d->p == '}') {
            d->p++;
            break;
        }
        return dec_unexpected(d, d->p);
    }
    if (held)
        dec_flush(L, base, n, 0, 0);
    d->depth--;
    return 1;
}

static int dec_value(json_dec *d)
{
    dec_skip_ws(d);
    switch (*d->p) { /* the '\0' at e is unexpected */
    case '{':
        return dec_object(d);
    case '[':
        return dec_array(d);
    case '"':
        return dec_string(d, 0);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return dec_number(d);
    case 't':
        if (!dec_literal(d, "true", 4))
            return 0;
        lua_pushboolean(d->L, 1);
        return 1;
    case 'f':
        if (!dec_literal(d, "false", 5))
            return 0;
        lua_pushboolean(d->L, 0);
        return 1;
    case 'n':
        if (!dec_literal(d, "null", 4))
            return 0;
        lua_pushlightuserdata(d->L, NULL);
        return 1;
    default:
        return dec_unexpected(d, d->p);
    }
}

static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    json_dec d;
    lua_settop(L, 1);
    lua_pushnil(L); /* 2: scratch buffer */
    lua_pushvalue(L, lua_upvalueindex(3)); /* 3: the key cache's strings */
    d.L = L;
    d.s = d.p = (const unsigned char *)text;
    d.e = d.s + len;
    d.depth = 0;
    d.scratch_idx = 2;
    d.keys_idx = 3;
    d.keys = (json_keyslot *)lua_touserdata(L, lua_upvalueindex(4));
    d.scratch = NULL;
    d.scratch_cap = 0;
    d.err[0] = '\0';
    if (dec_value(&d)) {
        dec_skip_ws(&d);
        if (d.p == d.e)
            return 1;
        if (*d.p >= 0x20 && *d.p < 0x7F)
            dec_fail(&d, d.p, "unexpected character '%c' after the value", *d.p);
        else
            dec_fail(&d, d.p, "unexpected byte 0x%02X after the value", *d.p);
    }
    lua_settop(L, 1);
    lua_pushnil(L);
    lua_pushstring(L, d.err);
    return 2;
}

/* ------------------------------------------------------------------------
 * Encoder
 * ------------------------------------------------------------------------ */

#define JSON_PATHLEN 100
/* String keys kept on the Lua stack while their object is encoded: at most
 * JSON_STACKKEYS per object and JSON_STACKKEYS_ALL at once, so that with
 * the 1000 levels' own few slots the whole stays under LuaJIT's limit of
 * 8000 slots per C call (LUAI_MAXCSTACK). */
#define JSON_STACKKEYS 64
#define JSON_STACKKEYS_ALL 3000
#define JSON_INITKEYS 128
#define JSON_INITBUF 4096
#define JSON_KEEPBUF (1024 * 1024)
#define JSON_OUTBUF_MT "simkit.json.outbuf"

typedef struct {
    char *p;
    size_t cap;
} json_outbuf;

typedef struct {
    const char *s;
    size_t len;
    int slot; /* stack slot holding the key, or 0 */
} json_key;

typedef struct {
    lua_State *L;
    char *b;
    size_t len, cap;
    json_outbuf *ob; /* owns b */
    /* Object keys being sorted, a stack shared by all nesting levels (each
     * level works above the ones of its parents), kept in a userdata. */
    json_key *keys;
    size_t nkeys, kcap;
    int keys_idx; /* stack slot of the keys userdata */
    int stack_keys; /* keys held on the Lua stack by all levels */
    int depth;
    char err[JSON_ERRLEN];
    /* Where the error is, built right to left while unwinding. */
    char path[JSON_PATHLEN];
    size_t path_at; /* path occupies path[path_at .. JSON_PATHLEN) */
    int path_cut;
} json_enc;

static int enc_fail(json_enc *c, const char *fmt, ...) JSON_PRINTF(2, 3);

static int enc_fail(json_enc *c, const char *fmt, ...)
{
    va_list ap;
    memcpy(c->err, "json: ", 6);
    va_start(ap, fmt);
    vsnprintf(c->err + 6, sizeof c->err - 6, fmt, ap);
    va_end(ap);
    return 0;
}

static void enc_path_prepend(json_enc *c, const char *seg, size_t n)
{
    if (c->path_cut)
        return;
    if (n > c->path_at) {
        c->path_cut = 1;
        return;
    }
    c->path_at -= n;
    memcpy(c->path + c->path_at, seg, n);
}

static void enc_path_index(json_enc *c, json_index i)
{
    char seg[32];
    int n = snprintf(seg, sizeof seg, "[%lld]", (long long)i);
    enc_path_prepend(c, seg, (size_t)n);
}

/* ".key", or ["key"] when it is not a plain name; bytes that are not
 * printable ASCII or valid UTF-8 show as '?'. */
static void enc_path_key(json_enc *c, const char *key, size_t len)
{
    char seg[80];
    const unsigned char *k = (const unsigned char *)key, *ke = k + len;
    size_t n = 0, i;
    int plain = len > 0 && !(k[0] >= '0' && k[0] <= '9');
    for (i = 0; i < len && plain; i++)
        plain = (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
                (k[i] >= '0' && k[i] <= '9') || k[i] == '_';
    if (plain) {
        seg[n++] = '.';
    } else {
        seg[n++] = '[';
        seg[n++] = '"';
    }
    while (k < ke && n < 60) {
        size_t u = json_utf8_len(k, ke);
        if (u > 1) {
            memcpy(seg + n, k, u);
            n += u;
            k += u;
        } else {
            seg[n++] = (u == 1 && *k >= 0x20 && *k < 0x7F && *k != '"') ? (char)*k : '?';
            k++;
        }
    }
    if (k < ke) {
        memcpy(seg + n, "...", 3);
        n += 3;
    }
    if (!plain) {
        seg[n++] = '"';
        seg[n++] = ']';
    }
    enc_path_prepend(c, seg, n);
}

/* Makes room for n more bytes. */
static int enc_grow(json_enc *c, size_t n)
{
    size_t cap = c->cap ? c->cap : JSON_INITBUF;
    char *nb;
    if (n > ((size_t)-1) / 4 - c->len)
        return enc_fail(c, "cannot encode: output too large");
    while (cap < c->len + n)
        cap *= 2;
    nb = (char *)realloc(c->ob->p, cap);
    if (nb == NULL)
        return enc_fail(c, "cannot encode: out of memory");
    c->ob->p = c->b = nb;
    c->ob->cap = c->cap = cap;
    return 1;
}

#define enc_room(c, n) ((c)->cap - (c)->len >= (n) || enc_grow((c), (n)))

static int enc_add(json_enc *c, const char *s, size_t n)
{
    if (!enc_room(c, n))
        return 0;
    memcpy(c->b + c->len, s, n);
    c->len += n;
    return 1;
}

static int enc_string(json_enc *c, const char *str, size_t len, const char *what)
{
    const unsigned char *s = (const unsigned char *)str, *e = s + len;
    const unsigned char *q = s, *run = s;
    size_t n;
    if (!enc_room(c, len + 2))
        return 0;
    c->b[c->len++] = '"';
    while (q < e) {
        unsigned ch = *q;
        if (json_plain[ch]) {
            q++;
            continue;
        }
        if (ch >= 0x80) {
            n = json_utf8_len(q, e);
            if (n == 0)
                return enc_fail(c, "cannot encode %s with invalid UTF-8 (byte %zu)", what,
                                (size_t)(q - s) + 1);
            q += n;
            continue;
        }
        /* '"', '\\' or a control character: flush the run, then escape. */
        memcpy(c->b + c->len, run, (size_t)(q - run));
        c->len += (size_t)(q - run);
        if (!enc_room(c, 6 + (size_t)(e - q) + 1))
            return 0;
        {
            char *o = c->b + c->len;
            *o++ = '\\';
            switch (ch) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = json_hexdigits[ch >> 4];
                *o++ = json_hexdigits[ch & 15];
            }
            c->len = (size_t)(o - c->b);
        }
        q++;
        run = q;
    }
    memcpy(c->b + c->len, run, (size_t)(q - run));
    c->len += (size_t)(q - run);
    c->b[c->len++] = '"';
    return 1;
}

static int enc_value(json_enc *c, int idx);

static int key_less(const json_key *a, const json_key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->s, b->s, n);
    return r < 0 || (r == 0 && a->len < b->len);
}

static int key_cmp(const void *va, const void *vb)
{
    const json_key *a = (const json_key *)va, *b = (const json_key *)vb;
    return key_less(a, b) ? -1 : key_less(b, a) ? 1 : 0;
}

static void sort_keys(json_key *k, size_t n)
{
    size_t i, j;
    if (n > 24) {
        qsort(k, n, sizeof *k, key_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        json_key t = k[i];
        for (j = i; j > 0 && key_less(&t, &k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = t;
    }
}

/* The text of a number key for an error message. */
static void num_key_text(lua_State *L, int idx, char *buf)
{
    size_t n = skc_format_number(L, idx, buf);
    if (n == 0)
        snprintf(buf, SKC_NUMBUF, "%g", (double)lua_tonumber(L, idx));
}

/* Pushes a key on the shared key stack. */
static void enc_key_push(json_enc *c, const char *str, size_t len, int slot)
{
    if (c->nkeys == c->kcap) {
        size_t cap = c->kcap * 2;
        json_key *nk = (json_key *)lua_newuserdata(c->L, cap * sizeof *nk);
        memcpy(nk, c->keys, c->nkeys * sizeof *nk);
        lua_replace(c->L, c->keys_idx);
        c->keys = nk;
        c->kcap = cap;
    }
    c->keys[c->nkeys].s = str;
    c->keys[c->nkeys].len = len;
    c->keys[c->nkeys].slot = slot;
    c->nkeys++;
}

/* The object whose n sorted keys are c->keys[base .. base+n). The key
 * array may move while the values are encoded: index it afresh each time. */
static int enc_object(json_enc *c, int idx, size_t base, size_t n)
{
    lua_State *L = c->L;
    size_t i;
    if (!enc_add(c, "{", 1))
        return 0;
    for (i = 0; i < n; i++) {
        json_key k = c->keys[base + i];
        if (i > 0 && !enc_add(c, ",", 1))
            return 0;
        if (!enc_string(c, k.s, k.len, "table key")) {
            enc_path_key(c, k.s, k.len);
            return 0;
        }
        if (!enc_add(c, ":", 1))
            return 0;
        if (k.slot)
            lua_pushvalue(L, k.slot);
        else
            lua_pushlstring(L, k.s, k.len);
        lua_rawget(L, idx);
        if (!enc_value(c, lua_gettop(L))) {
            enc_path_key(c, k.s, k.len);
            return 0;
        }
        lua_pop(L, 1);
    }
    return enc_add(c, "}", 1);
}

static int enc_array(json_enc *c, int idx, json_index n)
{
    lua_State *L = c->L;
    json_index i;
    if (!enc_add(c, "[", 1))
        return 0;
    for (i = 1; i <= n; i++) {
        if (i > 1 && !enc_add(c, ",", 1))
            return 0;
        lua_rawgeti(L, idx, i);
        if (!enc_value(c, lua_gettop(L))) {
            enc_path_index(c, i);
            return 0;
        }
        lua_pop(L, 1);
    }
    return enc_add(c, "]", 1);
}

static int enc_table(json_enc *c, int idx)
{
    lua_State *L = c->L;
    int top = lua_gettop(L), ok = 0, is_array = 0, kslots, kept = 0;
    size_t n = 0, nstr = 0, base = c->nkeys;
    json_index maxk = 0;

    if (c->depth >= JSON_MAX_DEPTH || !lua_checkstack(L, 8))
        return enc_fail(c, "cannot encode table nested more than %d levels deep (a cycle?)",
                        JSON_MAX_DEPTH);
    /* Keep up to JSON_STACKKEYS string keys on the Lua stack: the value is
     * then fetched with the key object itself rather than a new string. */
    kslots = JSON_STACKKEYS_ALL - c->stack_keys;
    if (kslots > JSON_STACKKEYS)
        kslots = JSON_STACKKEYS;
    if (kslots < 0 || !lua_checkstack(L, kslots + 8))
        kslots = 0;
    c->depth++;

    if (lua_getmetatable(L, idx)) {
        is_array = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
    }

    /* Classify the keys; collect the string ones. */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
        switch (lua_type(L, -1)) {
        case LUA_TSTRING: {
            size_t len;
            const char *str = lua_tolstring(L, -1, &len);
            if (kept < kslots) {
                enc_key_push(c, str, len, lua_gettop(L));
                lua_pushvalue(L, -1); /* the copy below stays, this one iterates */
                kept++;
                c->stack_keys++;
            } else {
                enc_key_push(c, str, len, 0); /* the table holds the string */
            }
            nstr++;
            break;
        }
        case LUA_TNUMBER: {
#if SKC_HAS_INT64
            lua_Integer k;
            if (lua_isinteger(L, -1) && (k = lua_tointeger(L, -1)) >= 1) {
                if (k > maxk)
                    maxk = k;
                break;
            }
#else
            lua_Number k = lua_tonumber(L, -1);
            if (k >= 1 && k <= 2147483647.0 && k == (lua_Number)(int)k) {
                if ((json_index)k > maxk)
                    maxk = (json_index)k;
                break;
            }
#endif
            {
                char nb[SKC_NUMBUF];
                num_key_text(L, lua_gettop(L), nb);
                enc_fail(c, "cannot encode table with number key %s (not a positive integer)", nb);
                goto done;
            }
        }
        default:
            enc_fail(c, "cannot encode table with a %s key", luaL_typename(L, -1));
            goto done;
        }
    }

    if (n == 0) {
        ok = enc_add(c, is_array ? "[]" : "{}", 2);
    } else if (nstr == n && !is_array) {
        sort_keys(c->keys + base, n);
        ok = enc_object(c, idx, base, n);
    } else if (nstr == 0) {
        if ((size_t)maxk != n)
            enc_fail(c, "cannot encode sparse array (%zu elements, largest index %lld)", n,
                     (long long)maxk);
        else
            ok = enc_array(c, idx, maxk);
    } else if (is_array) {
        enc_fail(c, "cannot encode table with the array metatable and string keys");
    } else {
        enc_fail(c, "cannot encode table with both string and number keys");
    }
done:
    lua_settop(L, top);
    c->stack_keys -= kept;
    c->nkeys = base;
    c->depth--;
    return ok;
}

static int enc_value(json_enc *c, int idx)
{
    lua_State *L = c->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return enc_add(c, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? enc_add(c, "true", 4) : enc_add(c, "false", 5);
    case LUA_TNUMBER: {
        size_t n;
        if (!enc_room(c, SKC_NUMBUF))
            return 0;
        n = skc_format_number(L, idx, c->b + c->len);
        if (n == 0) {
            lua_Number v = lua_tonumber(L, idx);
            return enc_fail(c, "cannot encode %s", v != v ? "NaN" : v > 0 ? "inf" : "-inf");
        }
        c->len += n;
        return 1;
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return enc_string(c, s, len, "string");
    }
    case LUA_TTABLE:
        return enc_table(c, idx);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return enc_add(c, "null", 4);
        return enc_fail(c, "cannot encode lightuserdata other than json_null");
    default:
        return enc_fail(c, "cannot encode %s", luaL_typename(L, idx));
    }
}

static int outbuf_gc(lua_State *L)
{
    json_outbuf *o = (json_outbuf *)lua_touserdata(L, 1);
    free(o->p);
    o->p = NULL;
    o->cap = 0;
    return 0;
}

/* Push a new, empty output buffer. */
static json_outbuf *push_outbuf(lua_State *L)
{
    json_outbuf *o = (json_outbuf *)lua_newuserdata(L, sizeof *o);
    o->p = NULL;
    o->cap = 0;
    if (luaL_newmetatable(L, JSON_OUTBUF_MT)) {
        lua_pushcfunction(L, outbuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return o;
}

static int l_json_encode(lua_State *L)
{
    json_enc c;
    json_outbuf *ob;
    json_key initkeys[JSON_INITKEYS];
    int ok;
    lua_settop(L, 1);
    /* 2: the state's buffer, taken out of the upvalue while in use */
    lua_pushvalue(L, lua_upvalueindex(2));
    ob = (json_outbuf *)lua_touserdata(L, 2);
    if (ob == NULL) {
        lua_pop(L, 1);
        ob = push_outbuf(L);
    }
    lua_pushboolean(L, 0);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushnil(L); /* 3: the keys userdata, once they outgrow initkeys */
    c.L = L;
    c.ob = ob;
    c.b = ob->p;
    c.len = 0;
    c.cap = ob->cap;
    c.keys = initkeys;
    c.nkeys = 0;
    c.kcap = JSON_INITKEYS;
    c.keys_idx = 3;
    c.stack_keys = 0;
    c.depth = 0;
    c.err[0] = '\0';
    c.path_at = JSON_PATHLEN;
    c.path_cut = 0;
    ok = enc_value(&c, 1);
    if (ok)
        lua_pushlstring(L, c.b ? c.b : "", c.len);
    if (ob->cap > JSON_KEEPBUF) {
        free(ob->p);
        ob->p = NULL;
        ob->cap = 0;
    }
    lua_pushvalue(L, 2); /* give it back */
    lua_replace(L, lua_upvalueindex(2));
    if (ok)
        return 1;
    lua_pushnil(L);
    if (c.path_at < JSON_PATHLEN) {
        lua_pushfstring(L, "%s at $%s", c.err, c.path_cut ? "..." : "");
        lua_pushlstring(L, c.path + c.path_at, JSON_PATHLEN - c.path_at);
        lua_concat(L, 2);
    } else {
        lua_pushstring(L, c.err);
    }
    return 2;
}

/* core.text_check(s [, allow_newlines]) -> nothing when `s` keeps simkit's
 * one text rule (valid UTF-8 per RFC 3629, no C0 control byte and no DEL;
 * with allow_newlines LF and CR pass), else "utf8" or "control", the 1-based
 * byte position and the byte. An invalid UTF-8 sequence anywhere is reported
 * before a control byte (simkit.validate words the message). */
static int l_text_check(lua_State *L)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    const unsigned char *p = s, *e = s + n, *ctl = NULL;
    int newlines = lua_toboolean(L, 2);
    while (p < e) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x7F) {
            p++;
        } else if (c >= 0x80) {
            size_t u = json_utf8_len(p, e);
            if (u == 0) {
                lua_pushliteral(L, "utf8");
                lua_pushinteger(L, (lua_Integer)(p - s) + 1);
                lua_pushinteger(L, (lua_Integer)c);
                return 3;
            }
            p += u;
        } else {
            if (ctl == NULL && !(newlines && (c == '\n' || c == '\r')))
                ctl = p;
            p++;
        }
    }
    if (ctl == NULL)
        return 0;
    lua_pushliteral(L, "control");
    lua_pushinteger(L, (lua_Integer)(ctl - s) + 1);
    lua_pushinteger(L, (lua_Integer)*ctl);
    return 3;
}

void skc_open_json(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"json_decode", l_json_decode},
        {"json_encode", l_json_encode},
        {NULL, NULL},
    };
    json_keyslot *keys;
    int i;
    lua_newtable(L); /* json_array_mt, the functions' first upvalue */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "json_array_mt");
    push_outbuf(L); /* the encoder's buffer, the second */
    /* the decoder's key cache (the encoder has it too, unused): its strings
     * the third upvalue, their bytes the fourth */
    lua_createtable(L, JSON_KEYCACHE, 0);
    keys = (json_keyslot *)lua_newuserdata(L, (JSON_KEYCACHE + 1) * sizeof *keys);
    for (i = 0; i <= JSON_KEYCACHE; i++) {
        keys[i].len = JSON_KEYNONE;
        keys[i].next = 0;
    }
    luaL_setfuncs(L, funcs, 4);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "json_null");
    lua_pushcfunction(L, l_text_check);
    lua_setfield(L, -2, "text_check");
}
