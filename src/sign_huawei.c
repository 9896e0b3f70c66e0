/* Huawei Cloud SDK-HMAC-SHA256 request signature, as the official Huawei
 * Cloud SDK signer computes it:
 *
 *   canonical = METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n hex(sha256(body))
 *   URI       = path, %-decoded, split on '/', each segment %-encoded (only
 *               A-Z a-z 0-9 - _ . ~ kept), joined, with a trailing '/'
 *   QUERY     = (key, value) pairs %-decoded, sorted, re-encoded, "k=v" & ...
 *   HEADERS   = "name:trimmed value\n" for every header, lower-case names,
 *               sorted; SIGNED = the names joined with ';'
 *   to_sign   = "SDK-HMAC-SHA256\n" X-Sdk-Date "\n" hex(sha256(canonical))
 *   Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=SIGNED, Signature=hex(hmac(sk, to_sign))
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "simkit.h"

static const char ALGO[] = "SDK-HMAC-SHA256";
static const char EMPTY_SHA256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* "YYYYMMDDTHHMMSSZ" of a time_t (UTC), by the days-to-civil arithmetic
 * of the proleptic Gregorian calendar (no gmtime_r, no strftime locale). */
static void sdk_date(time_t now, char out[17])
{
    long long t = (long long)now, days = t / 86400, secs = t % 86400, era, doe, yoe, doy, mp, y;
    int parts[6], i;
    char *p = out;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    days += 719468; /* from 0000-03-01 */
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    parts[1] = (int)(mp < 10 ? mp + 3 : mp - 9);        /* month */
    parts[2] = (int)(doy - (153 * mp + 2) / 5 + 1);     /* day */
    y = yoe + era * 400 + (parts[1] <= 2);
    parts[3] = (int)(secs / 3600);
    parts[4] = (int)(secs / 60 % 60);
    parts[5] = (int)(secs % 60);
    for (i = 3; i >= 0; i--, y /= 10)
        p[i] = (char)('0' + y % 10);
    p += 4;
    for (i = 1; i < 6; i++) {
        if (i == 3)
            *p++ = 'T';
        *p++ = (char)('0' + parts[i] / 10);
        *p++ = (char)('0' + parts[i] % 10);
    }
    *p++ = 'Z';
    *p = '\0';
}

/* The unreserved bytes (A-Z a-z 0-9 - _ . ~), a bit each, by c >> 6; '/'
 * is added for the URI. */
static const unsigned long long UNRESERVED[2] = { 0x03FF600000000000ULL, 0x47FFFFFE87FFFFFEULL };
#define SLASH_BIT (1ULL << '/')

/* Write s[0..len) %-decoded into dst (room for len bytes; an invalid
 * escape is kept literally); returns the length written. What precedes the
 * first '%' is copied as is. */
static size_t unquote_into(char *dst, const char *s, size_t len)
{
    const char *pct = (const char *)memchr(s, '%', len);
    size_t i, o;
    if (pct == NULL) {
        memcpy(dst, s, len);
        return len;
    }
    o = i = (size_t)(pct - s);
    memcpy(dst, s, i);
    for (; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && skc_hex_value((unsigned char)s[i + 1]) >= 0 &&
            skc_hex_value((unsigned char)s[i + 2]) >= 0) {
            dst[o++] = (char)(skc_hex_value((unsigned char)s[i + 1]) * 16 +
                              skc_hex_value((unsigned char)s[i + 2]));
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    return o;
}

/* The canonical request goes to SHA-256 through a small buffer: no Lua
 * string, no copy of the whole. */
typedef struct {
    skc_crypto *cr;
    int ok;
    size_t n;
    char buf[512];
} emitter;

static void emit_flush(emitter *e)
{
    if (e->n > 0 && e->ok)
        e->ok = skc_digest_update(e->cr, e->buf, e->n);
    e->n = 0;
}

static void emit_long(emitter *e, const char *s, size_t n)
{
    emit_flush(e);
    if (n > sizeof e->buf) {
        if (e->ok)
            e->ok = skc_digest_update(e->cr, s, n);
        return;
    }
    memcpy(e->buf, s, n);
    e->n = n;
}

/* Inline: most pieces are a byte or a few, copied as such. */
static inline void emit(emitter *e, const char *s, size_t n)
{
    if (n > sizeof e->buf - e->n) {
        emit_long(e, s, n);
        return;
    }
    memcpy(e->buf + e->n, s, n);
    e->n += n;
}

/* s %-encoded (upper-case hex; A-Z a-z 0-9 - _ . ~ kept); '/' kept too when
 * keep_slash (the URI: encoding each segment and joining them with '/').
 * Runs of kept bytes go by one copy. */
static void emit_quote(emitter *e, const char *s, size_t len, int keep_slash)
{
    static const char HEX[] = "0123456789ABCDEF";
    unsigned long long low = UNRESERVED[0] | (keep_slash ? SLASH_BIT : 0);
    size_t i = 0, j;
    while (i < len) {
        unsigned char ch;
        for (j = i; j < len; j++) {
            ch = (unsigned char)s[j];
            if (ch >= 128 || !(((ch < 64 ? low : UNRESERVED[1]) >> (ch & 63)) & 1))
                break;
        }
        if (j > i)
            emit(e, s + i, j - i);
        if (j == len)
            return;
        ch = (unsigned char)s[j];
        if (e->n + 3 > sizeof e->buf)
            emit_flush(e);
        e->buf[e->n++] = '%';
        e->buf[e->n++] = HEX[ch >> 4];
        e->buf[e->n++] = HEX[ch & 15];
        i = j + 1;
    }
}

typedef struct {
    const char *host; size_t hostlen;
    const char *path; size_t pathlen;
    const char *query; size_t querylen;
} url_parts;

static int split_url(const char *url, url_parts *u)
{
    const char *p = strstr(url, "://"), *end;
    if (p == NULL)
        return 0;
    p += 3;
    end = p + strcspn(p, "/?#");
    u->host = p;
    u->hostlen = (size_t)(end - p);
    {   /* drop userinfo */
        const char *at = memchr(p, '@', u->hostlen);
        if (at) {
            u->hostlen -= (size_t)(at + 1 - p);
            u->host = at + 1;
        }
    }
    if (u->hostlen == 0)
        return 0;
    p = end;
    u->path = p;
    u->pathlen = strcspn(p, "?#");
    p += u->pathlen;
    if (*p == '?') {
        p++;
        u->query = p;
        u->querylen = strcspn(p, "#");
    } else {
        u->query = p;
        u->querylen = 0;
    }
    return 1;
}

/* The canonical URI: the path %-decoded, each segment %-encoded, with a
 * trailing '/'. Uses scratch 2. */
static int emit_canonical_uri(emitter *e, const url_parts *u)
{
    const char *path = u->pathlen ? u->path : "/";
    size_t plen = u->pathlen ? u->pathlen : 1, len;
    char *dec = (char *)skc_scratch_get(e->cr, 2, plen);
    if (dec == NULL)
        return 0;
    len = unquote_into(dec, path, plen);
    emit_quote(e, dec, len, 1);
    if (len == 0 || dec[len - 1] != '/')
        emit(e, "/", 1);
    return 1;
}

typedef struct {
    const char *k, *v;
    size_t kl, vl, off;
} qpair;

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return (al > bl) - (al < bl);
}

static int qpair_cmp(const void *va, const void *vb)
{
    const qpair *a = (const qpair *)va, *b = (const qpair *)vb;
    int c = bytes_cmp(a->k, a->kl, b->k, b->kl);
    return c != 0 ? c : bytes_cmp(a->v, a->vl, b->v, b->vl);
}

/* The canonical query: the (key, value) pairs %-decoded, sorted bytewise
 * (the SDK sorts the decoded pairs; a %00 is a NUL like any byte),
 * re-encoded as "k=v" joined with '&'. Decoded text in scratch 2 (after
 * nothing: the URI is done), pairs in scratch 3. */
static int emit_canonical_query(emitter *e, const url_parts *u)
{
    char *dec = (char *)skc_scratch_get(e->cr, 2, u->querylen ? u->querylen : 1);
    qpair *q = NULL;
    size_t pos = 0, used = 0, n = 0, i, j;
    if (dec == NULL)
        return 0;
    while (pos < u->querylen) {
        const char *seg = u->query + pos, *eq;
        size_t seglen = strcspn(seg, "&"), kl, vl;
        if (seglen > u->querylen - pos)
            seglen = u->querylen - pos;
        pos += seglen + 1;
        if (seglen == 0)
            continue;
        eq = (const char *)memchr(seg, '=', seglen);
        kl = unquote_into(dec + used, seg, eq ? (size_t)(eq - seg) : seglen);
        vl = eq ? unquote_into(dec + used + kl, eq + 1, seglen - (size_t)(eq + 1 - seg)) : 0;
        q = (qpair *)skc_scratch_get(e->cr, 3, (n + 1) * sizeof *q);
        if (q == NULL)
            return 0;
        q[n].k = q[n].v = NULL; /* an offset until every pair is decoded */
        q[n].kl = kl;
        q[n].vl = vl;
        q[n].off = used;
        n++;
        used += kl + vl;
    }
    for (i = 0; i < n; i++) {
        q[i].k = dec + q[i].off;
        q[i].v = dec + q[i].off + q[i].kl;
    }
    if (n > 24) {
        qsort(q, n, sizeof *q, qpair_cmp);
    } else {
        for (i = 1; i < n; i++) {
            qpair x = q[i];
            for (j = i; j > 0 && qpair_cmp(&q[j - 1], &x) > 0; j--)
                q[j] = q[j - 1];
            q[j] = x;
        }
    }
    for (i = 0; i < n; i++) {
        if (i > 0)
            emit(e, "&", 1);
        emit_quote(e, q[i].k, q[i].kl, 0);
        emit(e, "=", 1);
        emit_quote(e, q[i].v, q[i].vl, 0);
    }
    return 1;
}

/* The names the signer reads and writes, interned once: upvalues 2.. of
 * its closure (skc_open_crypto pushes them in this order), so that no
 * call hashes or looks up a C string to find them. */
const char *const skc_huawei_names[] = { "method", "url", "body", "ak", "sk", "headers",
                                         "X-Sdk-Date", "Host", "Authorization", NULL };
enum { N_METHOD, N_URL, N_BODY, N_AK, N_SK, N_HEADERS, N_DATE, N_HOST, N_AUTH };
#define NAME(i) lua_upvalueindex(2 + (i))

/* Push field `which` of the argument (left on the stack, which anchors
 * it); NULL for an absent optional one. */
static const char *get_field(lua_State *L, int which, int required, size_t *len)
{
    lua_pushvalue(L, NAME(which));
    lua_gettable(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
        if (!required && lua_isnil(L, -1))
            return NULL;
        luaL_error(L, "sign.huawei: '%s' must be a string", skc_huawei_names[which]);
        return NULL;
    }
    return lua_tolstring(L, -1, len);
}

static int valid_sdk_date(const char *s, size_t len)
{
    size_t i;
    if (len != 16 || s[8] != 'T' || s[15] != 'Z')
        return 0;
    for (i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Append the signed header "lname\0trimmed value" to scratch 0 at *used,
 * its offset to scratch 1 at *count (offsets until every entry is written:
 * the buffer may move while it grows; pointers after). */
static int add_signed(skc_crypto *cr, size_t *used, size_t *count, const char *k, size_t kl,
                      const char *val, size_t vl)
{
    size_t a, z, i, need;
    char *text;
    skc_slice *v;
    for (a = 0; a < vl && isspace((unsigned char)val[a]); a++)
        ;
    for (z = vl; z > a && isspace((unsigned char)val[z - 1]); z--)
        ;
    need = kl + 1 + (z - a);
    text = (char *)skc_scratch_get(cr, 0, *used + need);
    v = (skc_slice *)skc_scratch_get(cr, 1, (*count + 1) * sizeof *v);
    if (text == NULL || v == NULL)
        return 0;
    text += *used;
    for (i = 0; i < kl; i++)
        text[i] = (char)tolower((unsigned char)k[i]);
    text[kl] = '\0';
    memcpy(text + kl + 1, val + a, z - a);
    v[*count].ptr = NULL;
    v[*count].len = *used;
    (*count)++;
    *used += need;
    return 1;
}

/* core.sign_huawei{method=, url=, headers=, body=, ak=, sk=} -> headers */
int skc_sign_huawei(lua_State *L)
{
    size_t mlen, ulen, blen = 0, aklen, sklen, i, count = 0, used = 0, dlen, slen;
    const char *method, *url, *body, *ak, *sk, *date = NULL;
    skc_crypto *cr = skc_crypto_of(L);
    url_parts u;
    int out, has_host = 0;
    skc_slice *v = NULL;
    unsigned char md[32];
    char *signed_names, *auth, *text;
    char datebuf[17];

    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "sign.huawei: expected a table");
    lua_settop(L, 1);
    method = get_field(L, N_METHOD, 1, &mlen);
    url = get_field(L, N_URL, 1, &ulen);
    body = get_field(L, N_BODY, 0, &blen);
    ak = get_field(L, N_AK, 1, &aklen);
    sk = get_field(L, N_SK, 1, &sklen);
    if (body == NULL) {
        body = "";
        blen = 0;
    }
    if (!split_url(url, &u))
        return luaL_error(L, "sign.huawei: 'url' must be absolute (scheme://host/path)");

    /* 7: the result: a copy of the given headers (values as strings),
     * noting X-Sdk-Date and Host (by their C-string names, any case); every
     * one but Authorization is a signed header. */
    lua_createtable(L, 0, 8);
    out = 7; /* after the argument and its five fields */
    lua_pushvalue(L, NAME(N_HEADERS));
    lua_gettable(L, 1);
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return luaL_error(L, "sign.huawei: 'headers' must be a table");
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            const char *k, *val;
            size_t vl, kl, cl;
            int vt = lua_type(L, -1);
            if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER))
                return luaL_error(L, "sign.huawei: headers must map names to strings");
            k = lua_tolstring(L, -2, &kl);
            cl = strlen(k);
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            val = lua_tolstring(L, -1, &vl); /* a number's copy becomes its text */
            if (strlen(val) < vl) { /* the value is its C string: up to a NUL */
                lua_pop(L, 1);
                lua_pushstring(L, val); /* val is the string at -2 */
                val = lua_tolstring(L, -1, &vl);
            }
            if (cl == 10 && strncasecmp(k, "x-sdk-date", 10) == 0) {
                date = val; /* anchored by out once set */
                dlen = vl;
            } else if (cl == 4 && strncasecmp(k, "host", 4) == 0) {
                has_host = 1;
            }
            if (!(kl == 13 && strncasecmp(k, "authorization", 13) == 0) &&
                !add_signed(cr, &used, &count, k, kl, val, vl))
                return luaL_error(L, "sign.huawei: out of memory");
            lua_rawset(L, out);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);

    if (date != NULL) {
        if (!valid_sdk_date(date, dlen))
            return luaL_error(L, "sign.huawei: X-Sdk-Date must be YYYYMMDDTHHMMSSZ");
    } else {
        sdk_date(time(NULL), datebuf);
        lua_pushvalue(L, NAME(N_DATE));
        lua_pushlstring(L, datebuf, 16);
        date = lua_tolstring(L, -1, &dlen);
        lua_rawset(L, out); /* anchors it */
        if (!add_signed(cr, &used, &count, "X-Sdk-Date", 10, date, dlen))
            return luaL_error(L, "sign.huawei: out of memory");
    }
    if (!has_host) {
        lua_pushvalue(L, NAME(N_HOST));
        lua_pushlstring(L, u.host, u.hostlen);
        lua_rawset(L, out);
        if (!add_signed(cr, &used, &count, "Host", 4, u.host, u.hostlen))
            return luaL_error(L, "sign.huawei: out of memory");
    }
    {
        text = (char *)skc_scratch_get(cr, 0, used ? used : 1);
        v = (skc_slice *)skc_scratch_get(cr, 1, (count ? count : 1) * sizeof *v);
        for (i = 0; i < count; i++) {
            size_t off = v[i].len, end = i + 1 < count ? v[i + 1].len : used;
            v[i].ptr = text + off;
            v[i].len = end - off;
        }
    }
    skc_sort_slices(v, count);

    /* The signed names "a;b;c" (scratch 3, after the query's pairs are
     * done with it), once for the canonical request and the header. */
    slen = 0;
    for (i = 0; i < count; i++)
        slen += strlen(v[i].ptr) + 1;

    /* The canonical request, streamed into SHA-256 (the body's hash first:
     * it uses the same context). */
    {
        size_t shalen = 0;
        const char *sha_hdr = NULL;
        char bodyhex[64];
        emitter e;
        for (i = 0; i < count; i++) {
            size_t nl = strlen(v[i].ptr);
            if (nl == 20 && memcmp(v[i].ptr, "x-sdk-content-sha256", 20) == 0) {
                sha_hdr = v[i].ptr + nl + 1;
                shalen = v[i].len - nl - 1;
            }
        }
        if (sha_hdr == NULL && blen == 0) {
            sha_hdr = EMPTY_SHA256; /* a GET: SHA-256 of nothing, a constant */
            shalen = 64;
        } else if (sha_hdr == NULL) {
            if (!skc_digest(cr, SKC_SHA256, body, blen, md))
                return luaL_error(L, "sign.huawei: sha256 failed");
            skc_hex(md, 32, bodyhex, 0);
            sha_hdr = bodyhex;
            shalen = 64;
        }
        e.cr = cr;
        e.n = 0;
        e.ok = skc_digest_begin(cr, SKC_SHA256);
        for (i = 0; i < mlen; i++) {
            if (e.n == sizeof e.buf)
                emit_flush(&e);
            e.buf[e.n++] = (char)toupper((unsigned char)method[i]);
        }
        emit(&e, "\n", 1);
        if (!emit_canonical_uri(&e, &u))
            return luaL_error(L, "sign.huawei: out of memory");
        emit(&e, "\n", 1);
        if (!emit_canonical_query(&e, &u))
            return luaL_error(L, "sign.huawei: out of memory");
        emit(&e, "\n", 1);
        signed_names = (char *)skc_scratch_get(cr, 3, slen ? slen : 1);
        if (signed_names == NULL)
            return luaL_error(L, "sign.huawei: out of memory");
        slen = 0;
        for (i = 0; i < count; i++) {
            size_t nl = strlen(v[i].ptr);
            /* "name:value\n": the entry with its NUL made a ':' */
            text[v[i].ptr - text + nl] = ':';
            emit(&e, v[i].ptr, v[i].len);
            emit(&e, "\n", 1);
            if (i > 0)
                signed_names[slen++] = ';';
            memcpy(signed_names + slen, v[i].ptr, nl);
            slen += nl;
        }
        emit(&e, "\n", 1);
        emit(&e, signed_names, slen);
        emit(&e, "\n", 1);
        emit(&e, sha_hdr, shalen);
        emit_flush(&e);
        if (!e.ok || !skc_digest_final(cr, md, 32))
            return luaL_error(L, "sign.huawei: sha256 failed");
    }
    /* the header: "ALGO Access=AK, SignedHeaders=..., Signature=hex(hmac(sk,
     * string to sign))", in scratch 2 */
    {
        static const char P1[] = " Access=", P2[] = ", SignedHeaders=", P3[] = ", Signature=";
        char sts[sizeof ALGO + 1 + 16 + 1 + 64];
        size_t stslen, n = 0, total;
        memcpy(sts, ALGO, sizeof ALGO - 1);
        stslen = sizeof ALGO - 1;
        sts[stslen++] = '\n';
        memcpy(sts + stslen, date, 16);
        stslen += 16;
        sts[stslen++] = '\n';
        skc_hex(md, 32, sts + stslen, 0);
        stslen += 64;
        if (!skc_hmac_sha256(cr, sk, sklen, sts, stslen, md))
            return luaL_error(L, "sign.huawei: hmac failed");
        total = sizeof ALGO - 1 + sizeof P1 - 1 + aklen + sizeof P2 - 1 + slen + sizeof P3 - 1 + 64;
        auth = (char *)skc_scratch_get(cr, 2, total);
        if (auth == NULL)
            return luaL_error(L, "sign.huawei: out of memory");
#define PUT(s, l) (memcpy(auth + n, (s), (l)), n += (l))
        PUT(ALGO, sizeof ALGO - 1);
        PUT(P1, sizeof P1 - 1);
        PUT(ak, aklen);
        PUT(P2, sizeof P2 - 1);
        PUT(signed_names, slen);
        PUT(P3, sizeof P3 - 1);
#undef PUT
        skc_hex(md, 32, auth + n, 0);
        lua_pushvalue(L, NAME(N_AUTH));
        lua_pushlstring(L, auth, total);
    }
    skc_scratch_done(cr);
    lua_rawset(L, out);
    lua_pushvalue(L, out);
    return 1;
}
