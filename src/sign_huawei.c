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
#include <string.h>
#include <time.h>
#include "simkit.h"

static const char ALGO[] = "SDK-HMAC-SHA256";

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Push s[0..len) %-decoded (an invalid escape is kept literally). */
static void push_unquote(lua_State *L, const char *s, size_t len)
{
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len + 0 && hexv((unsigned char)s[i + 1]) >= 0 &&
            hexv((unsigned char)s[i + 2]) >= 0) {
            luaL_addchar(&b, (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2])));
            i += 2;
        } else {
            luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
}

/* Append s %-encoded to b (upper-case hex). */
static void add_quote(luaL_Buffer *b, const char *s, size_t len)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            luaL_addchar(b, (char)c);
        } else {
            luaL_addchar(b, '%');
            luaL_addchar(b, HEX[c >> 4]);
            luaL_addchar(b, HEX[c & 15]);
        }
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

/* Push the canonical URI. */
static void push_canonical_uri(lua_State *L, const url_parts *u)
{
    luaL_Buffer b;
    const char *s;
    size_t len, i, start = 0;
    if (u->pathlen == 0)
        push_unquote(L, "/", 1);
    else
        push_unquote(L, u->path, u->pathlen);
    s = lua_tolstring(L, -1, &len);
    luaL_buffinit(L, &b);
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            add_quote(&b, s + start, i - start);
            if (i < len)
                luaL_addchar(&b, '/');
            start = i + 1;
        }
    }
    if (len == 0 || s[len - 1] != '/')
        luaL_addchar(&b, '/');
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

/* Append s as lower-case hex: keeps the bytewise order, has no NUL. */
static void add_hex(luaL_Buffer *b, const char *s, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        char two[2];
        skc_hex((const unsigned char *)s + i, 1, two, 0);
        luaL_addlstring(b, two, 2);
    }
}

/* Push the canonical query string. Entries are "enc(k)=enc(v)"; sorting the
 * decoded (key, value) pairs is what the SDK does, so sort on "k\0v" keys
 * built from the decoded text (in hex: %00 decodes to a NUL) and map back to
 * the encoded entries. */
static void push_canonical_query(lua_State *L, const url_parts *u)
{
    int keys, n = 0;
    size_t count, i, pos = 0;
    skc_slice *v;
    luaL_Buffer b;
    lua_newtable(L);
    keys = lua_gettop(L);
    while (pos < u->querylen) {
        const char *seg = u->query + pos, *eq;
        size_t seglen = strcspn(seg, "&");
        if (seglen > u->querylen - pos)
            seglen = u->querylen - pos;
        pos += seglen + 1;
        if (seglen == 0)
            continue;
        eq = memchr(seg, '=', seglen);
        /* sort key: hex(decoded key), NUL, hex(decoded value), NUL, encoded entry */
        push_unquote(L, seg, eq ? (size_t)(eq - seg) : seglen);
        if (eq)
            push_unquote(L, eq + 1, seglen - (size_t)(eq + 1 - seg));
        else
            lua_pushliteral(L, "");
        {
            luaL_Buffer e;
            size_t kl, vl;
            const char *k = lua_tolstring(L, -2, &kl), *val = lua_tolstring(L, -1, &vl);
            luaL_buffinit(L, &e);
            add_hex(&e, k, kl);
            luaL_addchar(&e, '\0');
            add_hex(&e, val, vl);
            luaL_addchar(&e, '\0');
            add_quote(&e, k, kl);
            luaL_addchar(&e, '=');
            add_quote(&e, val, vl);
            luaL_pushresult(&e);
        }
        lua_rawseti(L, keys, ++n);
        lua_pop(L, 2);
    }
    v = skc_sorted_strings(L, keys, &count);
    luaL_buffinit(L, &b);
    for (i = 0; i < count; i++) {
        const char *enc = memchr(v[i].ptr, '\0', v[i].len);
        enc = (const char *)memchr(enc + 1, '\0', v[i].len - (size_t)(enc + 1 - v[i].ptr)) + 1;
        if (i > 0)
            luaL_addchar(&b, '&');
        luaL_addlstring(&b, enc, v[i].len - (size_t)(enc - v[i].ptr));
    }
    luaL_pushresult(&b);
    lua_remove(L, -2); /* pointer array */
    lua_remove(L, -2); /* keys table */
}

static int find_header(lua_State *L, int tidx, const char *lname)
{
    lua_pushnil(L);
    while (lua_next(L, tidx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            size_t i;
            for (i = 0; k[i] && lname[i] && tolower((unsigned char)k[i]) == lname[i]; i++)
                ;
            if (k[i] == '\0' && lname[i] == '\0') {
                lua_pop(L, 2);
                return 1;
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

static const char *get_field(lua_State *L, const char *name, int required, size_t *len)
{
    const char *s;
    lua_getfield(L, 1, name);
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
        luaL_error(L, "sign.huawei: '%s' must be a string", name);
        return NULL;
    }
    s = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* the table keeps it alive */
    return s;
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

/* core.sign_huawei{method=, url=, headers=, body=, ak=, sk=} -> headers */
int skc_sign_huawei(lua_State *L)
{
    size_t mlen, ulen, blen = 0, aklen, sklen, i, count, dlen;
    const char *method, *url, *body, *ak, *sk, *date = NULL;
    url_parts u;
    int out, names, n = 0;
    skc_slice *v;
    luaL_Buffer b;
    unsigned char md[32];
    char hex[64];
    char datebuf[17];

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    method = get_field(L, "method", 1, &mlen);
    url = get_field(L, "url", 1, &ulen);
    body = get_field(L, "body", 0, &blen);
    ak = get_field(L, "ak", 1, &aklen);
    sk = get_field(L, "sk", 1, &sklen);
    if (body == NULL) {
        body = "";
        blen = 0;
    }
    if (!split_url(url, &u))
        return luaL_error(L, "sign.huawei: 'url' must be absolute (scheme://host/path)");

    /* 2: the result: a copy of the given headers (values as strings). */
    lua_newtable(L);
    out = 2;
    lua_getfield(L, 1, "headers");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return luaL_error(L, "sign.huawei: 'headers' must be a table");
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING ||
                (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
                return luaL_error(L, "sign.huawei: headers must map names to strings");
            lua_pushvalue(L, -2);
            lua_pushstring(L, lua_tostring(L, -2));
            lua_rawset(L, out);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);

    if (find_header(L, out, "x-sdk-date")) {
        lua_pushnil(L);
        while (lua_next(L, out) != 0) { /* fetch the value under whatever case */
            const char *k = lua_tostring(L, -2);
            if (strlen(k) == 10 && strncasecmp(k, "x-sdk-date", 10) == 0)
                date = lua_tolstring(L, -1, &dlen);
            lua_pop(L, 1);
        }
        if (date == NULL || !valid_sdk_date(date, dlen))
            return luaL_error(L, "sign.huawei: X-Sdk-Date must be YYYYMMDDTHHMMSSZ");
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(datebuf, sizeof datebuf, "%Y%m%dT%H%M%SZ", &tm);
        lua_pushstring(L, datebuf);
        lua_setfield(L, out, "X-Sdk-Date");
        lua_getfield(L, out, "X-Sdk-Date");
        date = lua_tolstring(L, -1, &dlen);
        lua_pop(L, 1);
    }
    if (!find_header(L, out, "host")) {
        lua_pushlstring(L, u.host, u.hostlen);
        lua_setfield(L, out, "Host");
    }

    /* Signed headers: every header but Authorization, "lname\0value". */
    lua_newtable(L);
    names = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, out) != 0) {
        size_t kl, vl, a, z;
        const char *k = lua_tolstring(L, -2, &kl), *val = lua_tolstring(L, -1, &vl);
        if (!(kl == 13 && strncasecmp(k, "authorization", 13) == 0)) {
            luaL_Buffer e;
            luaL_buffinit(L, &e);
            for (i = 0; i < kl; i++)
                luaL_addchar(&e, (char)tolower((unsigned char)k[i]));
            luaL_addchar(&e, '\0');
            for (a = 0; a < vl && isspace((unsigned char)val[a]); a++)
                ;
            for (z = vl; z > a && isspace((unsigned char)val[z - 1]); z--)
                ;
            luaL_addlstring(&e, val + a, z - a);
            luaL_pushresult(&e);
            lua_rawseti(L, names, ++n);
        }
        lua_pop(L, 1);
    }
    v = skc_sorted_strings(L, names, &count);

    /* The canonical request. */
    push_canonical_uri(L, &u);
    push_canonical_query(L, &u);
    luaL_buffinit(L, &b);
    for (i = 0; i < mlen; i++)
        luaL_addchar(&b, (char)toupper((unsigned char)method[i]));
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    /* stack: ... v, uri, query, methodtext */
    {
        int top = lua_gettop(L), j;
        luaL_Buffer c;
        size_t l1, l2, l3;
        const char *mtext = lua_tolstring(L, top, &l1);
        const char *uri = lua_tolstring(L, top - 2, &l2);
        const char *query = lua_tolstring(L, top - 1, &l3);
        const char *sha_hdr = NULL;
        size_t shalen = 0;
        for (i = 0; i < count; i++) {
            size_t nl = strlen(v[i].ptr);
            if (nl == 20 && memcmp(v[i].ptr, "x-sdk-content-sha256", 20) == 0) {
                sha_hdr = v[i].ptr + nl + 1;
                shalen = v[i].len - nl - 1;
            }
        }
        luaL_buffinit(L, &c);
        luaL_addlstring(&c, mtext, l1);
        luaL_addlstring(&c, uri, l2);
        luaL_addchar(&c, '\n');
        luaL_addlstring(&c, query, l3);
        luaL_addchar(&c, '\n');
        for (i = 0; i < count; i++) {
            size_t nl = strlen(v[i].ptr);
            luaL_addlstring(&c, v[i].ptr, nl);
            luaL_addchar(&c, ':');
            luaL_addlstring(&c, v[i].ptr + nl + 1, v[i].len - nl - 1);
            luaL_addchar(&c, '\n');
        }
        luaL_addchar(&c, '\n');
        for (i = 0; i < count; i++) {
            if (i > 0)
                luaL_addchar(&c, ';');
            luaL_addstring(&c, v[i].ptr);
        }
        luaL_addchar(&c, '\n');
        if (sha_hdr != NULL) {
            luaL_addlstring(&c, sha_hdr, shalen);
        } else {
            if (!skc_digest(skc_crypto_of(L), SKC_SHA256, body, blen, md))
                return luaL_error(L, "sign.huawei: sha256 failed");
            skc_hex(md, 32, hex, 0);
            luaL_addlstring(&c, hex, 64);
        }
        luaL_pushresult(&c);
        for (j = 0; j < 3; j++)
            lua_remove(L, -2);
    }
    /* string to sign */
    {
        size_t clen;
        const char *canon = lua_tolstring(L, -1, &clen);
        char sts[sizeof ALGO + 1 + 16 + 1 + 64];
        size_t stslen;
        if (!skc_digest(skc_crypto_of(L), SKC_SHA256, canon, clen, md))
            return luaL_error(L, "sign.huawei: sha256 failed");
        memcpy(sts, ALGO, sizeof ALGO - 1);
        stslen = sizeof ALGO - 1;
        sts[stslen++] = '\n';
        memcpy(sts + stslen, date, 16);
        stslen += 16;
        sts[stslen++] = '\n';
        skc_hex(md, 32, sts + stslen, 0);
        stslen += 64;
        if (!skc_hmac_sha256(skc_crypto_of(L), sk, sklen, sts, stslen, md))
            return luaL_error(L, "sign.huawei: hmac failed");
        skc_hex(md, 32, hex, 0);
        lua_pop(L, 1);
    }
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, ALGO, sizeof ALGO - 1);
    luaL_addstring(&b, " Access=");
    luaL_addlstring(&b, ak, aklen);
    luaL_addstring(&b, ", SignedHeaders=");
    for (i = 0; i < count; i++) {
        if (i > 0)
            luaL_addchar(&b, ';');
        luaL_addstring(&b, v[i].ptr);
    }
    luaL_addstring(&b, ", Signature=");
    luaL_addlstring(&b, hex, 64);
    luaL_pushresult(&b);
    lua_setfield(L, out, "Authorization");
    lua_pushvalue(L, out);
    return 1;
}
