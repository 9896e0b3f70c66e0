/* HTTP over libcurl: one reusable easy handle per client (keep-alive).
 *
 *   core.http_new() -> handle | nil, msg, "other", code
 *   core.http_version() -> "libcurl/7.88.1 OpenSSL/3.0.x ..."
 *   handle:request({ method=, url=, headers=, body=, timeout=, connect_timeout=,
 *                    max_body=, cafile=, capath=, proxy=, noproxy=, insecure=,
 *                    idempotent= } [, defaults [, pinned]])
 *     -> { status=, headers={lower-name=value}, body=, elapsed=, reused= }
 *      | nil, message, category, curlcode
 *
 * `defaults` (a table) gives the settings the request lacks: timeout,
 * connect_timeout, max_body, cafile, capath, proxy, noproxy, insecure.
 * `pinned` true: where the bytes go (cafile, capath, proxy, noproxy,
 * insecure) is the defaults' alone, the request's own are not read (a
 * transport hands the caller's table over as it is).
 * A request of the same shape as the handle's previous one (method, body or
 * not, idempotent, the TLS/proxy settings) keeps the handle's options and
 * sets only what differs (URL, headers, deadlines, size cap, body).
 *
 * `timeout` (seconds, default 10) is a deadline for the whole attempt,
 * connect included (CURLOPT_TIMEOUT_MS); `connect_timeout` bounds the connect
 * alone (default min(timeout, 3)). `max_body` (bytes, default 8 MB) caps the
 * answer's body: a larger Content-Length, or a body (chunked or not) that
 * grows past it, stops the transfer with category "too_large".
 *
 * Category "connect" means the request never went out: the connection was
 * refused, or the connect or TLS handshake did not finish in time, or the
 * connection failed before a single request byte was written (decided from
 * CURLINFO_REQUEST_SIZE, which libcurl resets per transfer). Once request
 * bytes may have gone out, a failure stays "timeout", "reset", ...
 *   handle:close()   (also __gc and __close; idempotent)
 *
 * Misuse (bad argument, closed handle) raises; transport failures return
 * nil, message, category, code.
 *
 * At most once: libcurl silently resends a request when a reused connection
 * dies before any answer byte, even after the server got (and processed)
 * it. For a non-idempotent request (`idempotent` defaults to false for POST
 * and PATCH, true otherwise) the body is streamed with no way to rewind, so
 * that resend fails instead (category "reset"), and it always goes on a
 * fresh connection, so that an idle connection closed by the server cannot
 * make an unprocessed write look possibly processed.
 *
 * Memory: every C buffer that lives across a Lua API call (header lines
 * and list nodes, response buffers) is owned by the userdata, so a Lua error
 * (e.g. out of memory) can never leak it; the next request reuses it (one
 * grown past HTTP_KEEP_BUFFER is freed after its transfer) and close/__gc
 * frees it. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "simkit.h"

#define HTTP_MT "simkit.http"
#define HTTP_INIT_KEY "simkit.http.global_init"
#define HTTP_DEFAULT_TIMEOUT 10.0
#define HTTP_DEFAULT_CONNECT_TIMEOUT 3.0
#define HTTP_DEFAULT_MAX_BODY (8.0 * 1024 * 1024)
#define HTTP_MAX_MAX_BODY 9007199254740992.0 /* 2^53: any larger cap is no cap */
#define HTTP_MAX_TIMEOUT (86400.0 * 30) /* 30 days, so ms fit in a long */
#define HTTP_KEEP_BUFFER (256 * 1024) /* larger buffers are freed after use */

typedef struct {
    char *p;
    size_t len, cap;
} http_buf;

typedef struct {
    CURL *curl;
    /* The request's header list: the lines, NUL-terminated one after the
     * other, in one buffer and the list's nodes in one array, both reused
     * by every request (libcurl reads CURLOPT_HTTPHEADER's list during
     * perform only and never frees it). */
    http_buf lines;
    struct curl_slist *nodes;
    size_t nnodes, nodes_cap;
    http_buf body;
    http_buf head;
    int oom;
    int too_large;      /* the body grew past max_body */
    curl_off_t max_body;
    const char *up;     /* request body sent by on_read (non-idempotent) */
    size_t up_len, up_off;
    char errbuf[CURL_ERROR_SIZE];
    /* The shape of the last request whose options were all set: a request
     * of the same shape (method, body or not, idempotent, TLS and proxy
     * settings) only sets what differs per request, instead of resetting
     * the handle and setting some twenty options again (most calls of a
     * client are alike). */
    int shaped;
    char shape_method[33];
    int shape_body, shape_idempotent, shape_insecure;
    char *shape_str[4]; /* cafile, capath, proxy, noproxy (copies; NULL = unset) */
} http_handle;

/* The validated arguments of one request; strings point into values kept on
 * the Lua stack for the whole call. */
typedef struct {
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    long timeout_ms, connect_timeout_ms;
    curl_off_t max_body;
    const char *cafile, *capath, *proxy, *noproxy;
    int insecure;
    int idempotent;  /* curl may resend it on a reused connection that died */
    int headers_idx; /* stack index of the headers table, 0 when none */
} http_req;

/* ---------------------------------------------------------------- buffers */

static void buf_free(http_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes at the end of b, counted in its length: where they
 * go, or NULL on no memory. */
static char *buf_reserve(http_buf *b, size_t n)
{
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap - b->len < n) {
            if (cap > ((size_t)-1) / 2)
                return NULL;
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL)
            return NULL;
        b->p = p;
        b->cap = cap;
    }
    b->len += n;
    return b->p + b->len - n;
}

static int buf_add(http_buf *b, const char *data, size_t n)
{
    char *p = buf_reserve(b, n);
    if (p == NULL)
        return 0;
    if (n)
        memcpy(p, data, n);
    return 1;
}

static void buf_done(http_buf *b)
{
    if (b->cap > HTTP_KEEP_BUFFER)
        buf_free(b);
    else
        b->len = 0;
}

/* ---------------------------------------------------------------- curl callbacks */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = (http_handle *)ud;
    size_t n = size * nmemb;
    if ((curl_off_t)n > h->max_body - (curl_off_t)h->body.len) {
        h->too_large = 1;
        return 0; /* aborts with CURLE_WRITE_ERROR */
    }
    if (!buf_add(&h->body, data, n)) {
        h->oom = 1;
        return 0; /* aborts with CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = (http_handle *)ud;
    size_t n = size * nmemb;
    /* a status line starts a new block (100 Continue, proxy CONNECT, redirect):
     * keep only the last one */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        h->head.len = 0;
    if (!buf_add(&h->head, data, n)) {
        h->oom = 1;
        return 0;
    }
    return n;
}

/* The body of a non-idempotent request. No seek callback: if a reused
 * connection dies after the body went out, libcurl would resend it on a new
 * connection; without a way to rewind it fails (CURLE_SEND_FAIL_REWIND). */
static size_t on_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    http_handle *h = (http_handle *)ud;
    size_t n = size * nmemb, left = h->up_len - h->up_off;
    if (n > left)
        n = left;
    if (n)
        memcpy(dst, h->up + h->up_off, n);
    h->up_off += n;
    return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    (void)ud;
    (void)offset;
    (void)origin;
    return CURL_SEEKFUNC_CANTSEEK;
}

/* ---------------------------------------------------------------- handle */

static http_handle *check_handle(lua_State *L)
{
    http_handle *h = (http_handle *)luaL_checkudata(L, 1, HTTP_MT);
    if (h->curl == NULL)
        luaL_argerror(L, 1, "http handle is closed");
    return h;
}

static void forget_shape(http_handle *h)
{
    int i;
    for (i = 0; i < 4; i++) {
        free(h->shape_str[i]);
        h->shape_str[i] = NULL;
    }
    h->shaped = 0;
}

static void handle_release(http_handle *h)
{
    if (h->curl) {
        curl_easy_cleanup(h->curl);
        h->curl = NULL;
    }
    free(h->nodes);
    h->nodes = NULL;
    h->nnodes = h->nodes_cap = 0;
    buf_free(&h->lines);
    buf_free(&h->body);
    buf_free(&h->head);
    forget_shape(h);
}

/* close(), __gc and __close: idempotent; never curl_global_cleanup (the host
 * process may use curl too). */
static int http_close(lua_State *L)
{
    http_handle *h = (http_handle *)luaL_checkudata(L, 1, HTTP_MT);
    handle_release(h);
    return 0;
}

static int http_tostring(lua_State *L)
{
    http_handle *h = (http_handle *)luaL_checkudata(L, 1, HTTP_MT);
    if (h->curl == NULL)
        lua_pushliteral(L, "simkit.http (closed)");
    else
        lua_pushfstring(L, "simkit.http (%p)", (void *)h);
    return 1;
}

static int http_new(lua_State *L)
{
    http_handle *h;
    /* curl_global_init is refcounted and thread-safe in this libcurl; call it
     * once per Lua state (the flag lives in the registry, not in a C static) */
    lua_getfield(L, LUA_REGISTRYINDEX, HTTP_INIT_KEY);
    if (!lua_toboolean(L, -1)) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK) {
            lua_pushnil(L);
            lua_pushfstring(L, "http: curl_global_init failed: %s", curl_easy_strerror(rc));
            lua_pushliteral(L, "other");
            lua_pushinteger(L, (lua_Integer)rc);
            return 4;
        }
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, HTTP_INIT_KEY);
    }
    lua_pop(L, 1);

    /* the userdata first, then the resource it owns */
    h = (http_handle *)lua_newuserdata(L, sizeof(*h));
    memset(h, 0, sizeof(*h));
    luaL_setmetatable(L, HTTP_MT);
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "http: curl_easy_init failed");
        lua_pushliteral(L, "other");
        lua_pushinteger(L, 0);
        return 4;
    }
    return 1;
}

static int http_version(lua_State *L)
{
    lua_pushstring(L, curl_version());
    return 1;
}

/* ---------------------------------------------------------------- argument checks */

/* The keys http_request reads and writes, interned once as its upvalues
 * (a lua_pushstring per read would hash the C string every time). */
enum {
    K_METHOD = 1, K_URL, K_BODY, K_TIMEOUT, K_CONNECT_TIMEOUT, K_MAX_BODY, K_CAFILE, K_CAPATH,
    K_PROXY, K_NOPROXY, K_INSECURE, K_IDEMPOTENT, K_HEADERS, K_STATUS, K_ELAPSED, K_REUSED,
    K_COUNT = K_REUSED
};

static const char *const key_names[K_COUNT + 1] = {
    NULL, "method", "url", "body", "timeout", "connect_timeout", "max_body", "cafile", "capath",
    "proxy", "noproxy", "insecure", "idempotent", "headers", "status", "elapsed", "reused",
};

/* Push field `k` of the table at `idx` (raw); its type. */
static int push_from(lua_State *L, int idx, int k)
{
    lua_pushvalue(L, lua_upvalueindex(k));
    lua_rawget(L, idx);
    return lua_type(L, -1);
}

/* A field of the request (argument 2). */
static int push_field(lua_State *L, int k)
{
    return push_from(L, 2, k);
}

/* A setting: the request's own, else the handle defaults' (argument 3, the
 * transport's client options), so a transport passes both tables as they
 * are instead of merging them into a new one per request. */
static int push_setting(lua_State *L, int k)
{
    int t = push_field(L, k);
    if (t == LUA_TNIL && lua_type(L, 3) == LUA_TTABLE) {
        lua_pop(L, 1);
        t = push_from(L, 3, k);
    }
    return t;
}

/* The string value of type `t` on the stack top (pushed for key `k`), or
 * NULL for nil; raises on another type, and on a NUL byte unless `len` is
 * given. */
static const char *top_string(lua_State *L, int t, int k, size_t *len)
{
    const char *s;
    size_t n;
    if (t == LUA_TNIL)
        return NULL;
    if (t != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be a string", key_names[k]));
    s = lua_tolstring(L, -1, &n);
    if (len)
        *len = n;
    else if (strlen(s) != n)
        luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' contains a NUL byte", key_names[k]));
    return s;
}

/* method, url, body: the request's own */
static const char *opt_string_field(lua_State *L, int k, size_t *len)
{
    return top_string(L, push_field(L, k), k, len);
}

/* A setting of where the bytes go (cafile, capath, proxy, noproxy,
 * insecure): the defaults' alone when `pinned`, else as push_setting. */
static int push_route(lua_State *L, int k, int pinned)
{
    if (!pinned)
        return push_setting(L, k);
    if (lua_type(L, 3) == LUA_TTABLE)
        return push_from(L, 3, k);
    lua_pushnil(L);
    return LUA_TNIL;
}

/* cafile, capath, proxy, noproxy */
static const char *opt_string_route(lua_State *L, int k, int pinned)
{
    return top_string(L, push_route(L, k, pinned), k, NULL);
}

static long seconds_field(lua_State *L, int k, double dflt)
{
    int t = push_setting(L, k);
    double s;
    if (t == LUA_TNIL)
        s = dflt;
    else if (t != LUA_TNUMBER)
        return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be a number (seconds)", key_names[k]));
    else
        s = (double)lua_tonumber(L, -1);
    if (!(s > 0) || !(s <= HTTP_MAX_TIMEOUT))
        return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be a positive number of seconds",
                                                   key_names[k]));
    return (long)ceil(s * 1000.0);
}

static curl_off_t bytes_field(lua_State *L, int k, double dflt)
{
    int t = push_setting(L, k);
    double n;
    if (t == LUA_TNIL)
        n = dflt;
    else if (t != LUA_TNUMBER)
        return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be a number (bytes)", key_names[k]));
    else
        n = (double)lua_tonumber(L, -1);
    if (!(n >= 1) || !(n <= HTTP_MAX_MAX_BODY))
        return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' must be a number of bytes from 1 to 2^53",
                                                   key_names[k]));
    return (curl_off_t)floor(n);
}

static int valid_method(const char *m)
{
    size_t i, n = strlen(m);
    if (n == 0 || n > 32)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m[i];
        if (!(isupper(c) || isdigit(c) || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static int valid_header_name(const char *s, size_t n)
{
    size_t i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 32 || c >= 127 || c == ':')
            return 0;
    }
    return 1;
}

/* No CR, LF or NUL: three vectorised scans (a signature header is long) */
static int valid_header_value(const char *s, size_t n)
{
    return memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL && memchr(s, '\0', n) == NULL;
}

static int is_text(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    return t == LUA_TSTRING || t == LUA_TNUMBER;
}

/* Call fn for every header of the table at hidx: first the {name, value}
 * pairs at 1..n in order, then the string keys. fn may raise. */
typedef int (*header_fn)(lua_State *L, void *ud, int name_idx, int value_idx);

static int each_header(lua_State *L, int hidx, header_fn fn, void *ud)
{
    size_t i, n = lua_rawlen(L, hidx);
    for (i = 1; i <= n; i++) {
        int r;
        lua_rawgeti(L, hidx, (int)i);
        if (!lua_istable(L, -1))
            luaL_argerror(L, 2, "field 'headers': list items must be {name, value} tables");
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        r = fn(L, ud, lua_gettop(L) - 1, lua_gettop(L));
        lua_pop(L, 3);
        if (!r)
            return 0;
    }
    lua_pushnil(L);
    while (lua_next(L, hidx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            int r;
            lua_pushvalue(L, -2); /* a copy of the key: fn may convert values */
            lua_pushvalue(L, -2);
            r = fn(L, ud, lua_gettop(L) - 1, lua_gettop(L));
            lua_pop(L, 2);
            if (!r) {
                lua_pop(L, 2);
                return 0;
            }
        } else if (!(lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) >= 1 &&
                     lua_tonumber(L, -2) <= (lua_Number)n &&
                     lua_tonumber(L, -2) == floor(lua_tonumber(L, -2)))) {
            luaL_argerror(L, 2, "field 'headers': keys must be names or list positions");
        }
        lua_pop(L, 1);
    }
    return 1;
}

typedef struct {
    http_handle *h;
    int saw_expect, saw_ctype, failed;
} build_state;

/* Append the header line "name: value" (NUL-terminated) to the handle's
 * lines, or "name;" for an empty value (curl drops "name:"), or the line
 * `name` as it is when value is NULL ("Expect:": no such header); 0 on no
 * memory. */
static int add_line(http_handle *h, const char *name, size_t nl, const char *value, size_t vl)
{
    size_t n = value == NULL ? nl + 1 : vl == 0 ? nl + 2 : nl + vl + 3;
    char *line = n > nl ? buf_reserve(&h->lines, n) : NULL;
    if (line == NULL)
        return 0;
    memcpy(line, name, nl);
    if (value != NULL && vl == 0) {
        line[nl++] = ';';
    } else if (value != NULL) {
        line[nl] = ':';
        line[nl + 1] = ' ';
        memcpy(line + nl + 2, value, vl);
        nl += vl + 2;
    }
    line[nl] = '\0';
    h->nnodes++;
    return 1;
}

/* Check one header (raises on a bad one: the lines so far are the handle's,
 * reset by the next request) and append it as "Name: value". */
static int add_one_header(lua_State *L, void *ud, int ni, int vi)
{
    build_state *st = (build_state *)ud;
    size_t nl, vl;
    const char *name, *value;
    if (lua_type(L, ni) != LUA_TSTRING || !is_text(L, vi))
        luaL_argerror(L, 2, "field 'headers': names must be strings and values strings or numbers");
    name = lua_tolstring(L, ni, &nl);
    if (!valid_header_name(name, nl))
        luaL_argerror(L, 2, lua_pushfstring(L, "field 'headers': invalid header name '%s'", name));
    value = lua_tolstring(L, vi, &vl); /* converts the stack copy only */
    if (!valid_header_value(value, vl))
        luaL_argerror(L, 2, lua_pushfstring(L, "field 'headers': invalid value for '%s'", name));
    if (nl == 6 && strncasecmp(name, "expect", 6) == 0)
        st->saw_expect = 1;
    if (nl == 12 && strncasecmp(name, "content-type", 12) == 0)
        st->saw_ctype = 1;
    if (!add_line(st->h, name, nl, value, vl)) {
        st->failed = 1;
        return 0;
    }
    return 1;
}

/* Link the handle's nodes over its lines: the list for CURLOPT_HTTPHEADER
 * (NULL when there is none); 0 on no memory. Linked only once every line is
 * in: the buffer may move while it grows. */
static int link_headers(http_handle *h, struct curl_slist **list)
{
    size_t i;
    char *p = h->lines.p;
    *list = NULL;
    if (h->nnodes == 0)
        return 1;
    if (h->nnodes > h->nodes_cap) {
        size_t cap = h->nnodes < 16 ? 16 : h->nnodes;
        struct curl_slist *n = (struct curl_slist *)realloc(h->nodes, cap * sizeof(*n));
        if (n == NULL)
            return 0;
        h->nodes = n;
        h->nodes_cap = cap;
    }
    for (i = 0; i < h->nnodes; i++) {
        h->nodes[i].data = p;
        h->nodes[i].next = i + 1 < h->nnodes ? &h->nodes[i + 1] : NULL;
        p += strlen(p) + 1;
    }
    *list = h->nodes;
    return 1;
}

/* Read and validate every argument but the headers (checked as they are
 * added to the handle's list); raises on misuse; allocates nothing. */
static void read_request(lua_State *L, http_req *r)
{
    int t, pinned;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TBOOLEAN);
    pinned = lua_toboolean(L, 4);
    lua_settop(L, 4);
    memset(r, 0, sizeof(*r));

    r->method = opt_string_field(L, K_METHOD, NULL);
    if (r->method == NULL)
        r->method = "GET";
    if (!valid_method(r->method))
        luaL_argerror(L, 2, lua_pushfstring(L, "field 'method': invalid method '%s'", r->method));

    r->url = opt_string_field(L, K_URL, NULL);
    if (r->url == NULL)
        luaL_argerror(L, 2, "field 'url' must be a string");

    r->body = opt_string_field(L, K_BODY, &r->body_len);

    r->timeout_ms = seconds_field(L, K_TIMEOUT, HTTP_DEFAULT_TIMEOUT);
    r->connect_timeout_ms = seconds_field(L, K_CONNECT_TIMEOUT,
                                          fmin((double)r->timeout_ms / 1000.0, HTTP_DEFAULT_CONNECT_TIMEOUT));
    r->max_body = bytes_field(L, K_MAX_BODY, HTTP_DEFAULT_MAX_BODY);

    r->cafile = opt_string_route(L, K_CAFILE, pinned);
    r->capath = opt_string_route(L, K_CAPATH, pinned);
    r->proxy = opt_string_route(L, K_PROXY, pinned);
    r->noproxy = opt_string_route(L, K_NOPROXY, pinned);

    t = push_route(L, K_INSECURE, pinned);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_argerror(L, 2, "field 'insecure' must be a boolean");
    r->insecure = lua_toboolean(L, -1);

    t = push_field(L, K_IDEMPOTENT);
    if (t == LUA_TBOOLEAN)
        r->idempotent = lua_toboolean(L, -1);
    else if (t == LUA_TNIL)
        r->idempotent = strcmp(r->method, "POST") != 0 && strcmp(r->method, "PATCH") != 0;
    else
        luaL_argerror(L, 2, "field 'idempotent' must be a boolean");

    t = push_field(L, K_HEADERS);
    if (t == LUA_TTABLE) {
        r->headers_idx = lua_gettop(L); /* each header is checked as it is added */
    } else if (t != LUA_TNIL) {
        luaL_argerror(L, 2, "field 'headers' must be a table");
    }
}

/* ---------------------------------------------------------------- results */

static const char *category_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "resolve";
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PROXY:
        return "proxy";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return "reset";
    case CURLE_SEND_FAIL_REWIND:
        return "reset";
    case CURLE_PARTIAL_FILE:
        return "partial";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    default:
        return "other";
    }
}

/* The category of a failed transfer: the code's, except that a connection
 * that failed before one request byte was written is "connect" (nothing was
 * sent; a write may be retried). request_sent is -1 when unknown. */
static const char *failure_category(const http_handle *h, CURLcode rc, int request_sent)
{
    if (h->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        return "too_large";
    if (request_sent == 0 &&
        (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
         rc == CURLE_GOT_NOTHING))
        return "connect";
    return category_of(rc);
}

static int push_failure(lua_State *L, http_handle *h, CURLcode rc, int request_sent)
{
    const char *cat = failure_category(h, rc, request_sent);
    const char *what = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
    size_t n;
    if (h->oom)
        what = "out of memory";
    else if (strcmp(cat, "too_large") == 0)
        what = "the answer is larger than max_body";
    else if (strcmp(cat, "connect") == 0 && rc != CURLE_COULDNT_CONNECT)
        what = rc == CURLE_OPERATION_TIMEDOUT ? "timed out before the request was sent"
                                               : "connection failed before the request was sent";
    else if (rc == CURLE_SEND_FAIL_REWIND)
        what = "connection lost after the request was sent; not resent, it may have been processed";
    /* curl's messages end with a newline now and then */
    n = strlen(what);
    while (n > 0 && (what[n - 1] == '\n' || what[n - 1] == '\r'))
        n--;
    lua_pushnil(L);
    lua_pushliteral(L, "http: ");
    lua_pushlstring(L, what, n);
    lua_pushfstring(L, " (%s)", cat);
    lua_concat(L, 3);
    lua_pushstring(L, cat);
    lua_pushinteger(L, (lua_Integer)rc);
    return 4;
}

/* Parse the last header block into a table on top of the stack. */
static void push_headers(lua_State *L, http_buf *head)
{
    const char *p = head->p, *end = head->p + head->len;
    int tidx, have_last = 0;
    lua_createtable(L, 0, 8); /* a usual answer's headers, without rehashing */
    tidx = lua_gettop(L);
    lua_pushnil(L); /* slot for the last header name (obs-fold) */
    while (p != NULL && p < end) {
        const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *colon, *v, *ve;
        const char *next = eol ? eol + 1 : end;
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p || (le - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
            p = next;
            continue;
        }
        if ((*p == ' ' || *p == '\t') && have_last) { /* obsolete line folding */
            v = p;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            lua_pushvalue(L, -1); /* name, key */
            lua_pushvalue(L, -1);
            lua_rawget(L, tidx);
            lua_pushliteral(L, " ");
            lua_pushlstring(L, v, (size_t)(le - v));
            lua_concat(L, 3);
            lua_rawset(L, tidx); /* name */
            p = next;
            continue;
        }
        colon = (const char *)memchr(p, ':', (size_t)(le - p));
        if (colon == NULL || colon == p) {
            p = next;
            continue;
        }
        {
            /* the name lower-cased in place: the buffer is the handle's and
             * is read no more after this */
            char *name = head->p + (p - head->p);
            size_t i, n = (size_t)(colon - p);
            lua_pop(L, 1); /* the previous name */
            for (i = 0; i < n; i++)
                if ((unsigned char)(name[i] - 'A') < 26)
                    name[i] = (char)(name[i] + ('a' - 'A'));
            lua_pushlstring(L, name, n);
        }
        have_last = 1;
        v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        lua_pushvalue(L, -1); /* name, key */
        lua_pushvalue(L, -1);
        lua_rawget(L, tidx);
        if (lua_type(L, -1) == LUA_TSTRING) { /* repeated: join with ", " */
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, v, (size_t)(ve - v));
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, v, (size_t)(ve - v));
        }
        lua_rawset(L, tidx); /* name */
        p = next;
    }
    lua_pop(L, 1);
}

/* ---------------------------------------------------------------- request */

static int same_str(const char *a, const char *b)
{
    return a == NULL ? b == NULL : (b != NULL && strcmp(a, b) == 0);
}

/* The TLS and proxy strings of a request, in the order of shape_str. */
static void shape_strings(const http_req *r, const char *s[4])
{
    s[0] = r->cafile;
    s[1] = r->capath;
    s[2] = r->proxy;
    s[3] = r->noproxy;
}

static int same_shape(const http_handle *h, const http_req *r)
{
    const char *s[4];
    int i;
    if (!h->shaped || strcmp(h->shape_method, r->method) != 0 || h->shape_body != (r->body != NULL) ||
        h->shape_idempotent != r->idempotent || h->shape_insecure != r->insecure)
        return 0;
    shape_strings(r, s);
    for (i = 0; i < 4; i++)
        if (!same_str(h->shape_str[i], s[i]))
            return 0;
    return 1;
}

/* Remember the shape of `r`, whose options are all set now; on no memory
 * the next request simply sets everything again. */
static void keep_shape(http_handle *h, const http_req *r)
{
    const char *s[4];
    int i;
    forget_shape(h);
    shape_strings(r, s);
    for (i = 0; i < 4; i++) {
        if (s[i] != NULL && (h->shape_str[i] = strdup(s[i])) == NULL) {
            forget_shape(h);
            return;
        }
    }
    memcpy(h->shape_method, r->method, strlen(r->method) + 1); /* valid_method: <= 32 */
    h->shape_body = r->body != NULL;
    h->shape_idempotent = r->idempotent;
    h->shape_insecure = r->insecure;
    h->shaped = 1;
}

/* After a transfer: buffers grown past HTTP_KEEP_BUFFER by an unusual
 * request or answer are freed (a header list that large goes with them). */
static void request_done(http_handle *h)
{
    buf_done(&h->body);
    buf_done(&h->head);
    if (h->lines.cap > HTTP_KEEP_BUFFER || h->nodes_cap > HTTP_KEEP_BUFFER / sizeof(*h->nodes)) {
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        buf_free(&h->lines);
        free(h->nodes);
        h->nodes = NULL;
        h->nnodes = h->nodes_cap = 0;
    }
}

#define SETOPT(opt, val)                                                                        \
    do {                                                                                        \
        if (rc == CURLE_OK)                                                                     \
            rc = curl_easy_setopt(c, opt, val);                                                 \
    } while (0)

static int http_request(lua_State *L)
{
    http_handle *h = check_handle(L);
    http_req r;
    CURL *c;
    CURLcode rc = CURLE_OK;
    build_state st;
    struct curl_slist *list;
    long status = 0, nconn = 0;
    curl_off_t total_us = 0;
    int is_head, base, fast;

    luaL_checkstack(L, 40, "http request");
    read_request(L, &r); /* may raise; nothing allocated yet */
    /* POST/PUT/PATCH without a body send "Content-Length: 0" */
    if (r.body == NULL && (strcmp(r.method, "POST") == 0 || strcmp(r.method, "PUT") == 0 ||
                           strcmp(r.method, "PATCH") == 0)) {
        r.body = "";
        r.body_len = 0;
    }
    c = h->curl;

    /* state from the previous request; all owned by the handle */
    fast = same_shape(h, &r);
    if (!fast) {
        forget_shape(h);
        curl_easy_reset(c); /* options only: live connections stay cached */
    }
    h->lines.len = 0;
    h->nnodes = 0;
    h->body.len = 0;
    h->head.len = 0;
    h->oom = 0;
    h->too_large = 0;
    h->max_body = r.max_body;
    h->errbuf[0] = '\0';
    h->up = NULL;
    h->up_len = h->up_off = 0;

    /* request headers */
    memset(&st, 0, sizeof(st));
    st.h = h;
    if (r.headers_idx)
        each_header(L, r.headers_idx, add_one_header, &st);
    if (!st.failed && !st.saw_expect && !add_line(h, "Expect:", 7, NULL, 0))
        st.failed = 1;
    /* send exactly the caller's headers: no made-up form content type */
    if (!st.failed && r.body && !st.saw_ctype && !add_line(h, "Content-Type:", 13, NULL, 0))
        st.failed = 1;
    if (!st.failed && !link_headers(h, &list))
        st.failed = 1;
    if (st.failed) {
        h->oom = 1;
        forget_shape(h);
        return push_failure(L, h, CURLE_OUT_OF_MEMORY, -1);
    }

    /* what differs per request */
    SETOPT(CURLOPT_URL, r.url);
    SETOPT(CURLOPT_HTTPHEADER, list);
    SETOPT(CURLOPT_TIMEOUT_MS, r.timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, r.connect_timeout_ms);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, r.max_body); /* a Content-Length above it */
    is_head = strcmp(r.method, "HEAD") == 0;
    if (r.body && !is_head) {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r.body_len);
        if (r.idempotent) {
            SETOPT(CURLOPT_POSTFIELDS, r.body); /* binary-safe with the size */
        } else {
            h->up = r.body; /* anchored on the Lua stack during perform */
            h->up_len = r.body_len;
        }
    }
    if (!fast) {
        /* what a request of this shape keeps */
        SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
        SETOPT(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
        SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
        SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT(CURLOPT_WRITEFUNCTION, on_body);
        SETOPT(CURLOPT_WRITEDATA, (void *)h);
        SETOPT(CURLOPT_HEADERFUNCTION, on_header);
        SETOPT(CURLOPT_HEADERDATA, (void *)h);
        SETOPT(CURLOPT_SSL_VERIFYPEER, r.insecure ? 0L : 1L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, r.insecure ? 0L : 2L);
        if (r.cafile)
            SETOPT(CURLOPT_CAINFO, r.cafile);
        if (r.capath)
            SETOPT(CURLOPT_CAPATH, r.capath);
        if (r.proxy) /* "" disables every proxy, the environment's included */
            SETOPT(CURLOPT_PROXY, r.proxy);
        if (r.noproxy)
            SETOPT(CURLOPT_NOPROXY, r.noproxy);
        SETOPT(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
        if (is_head) {
            SETOPT(CURLOPT_NOBODY, 1L);
        } else if (r.body && r.idempotent) {
            if (strcmp(r.method, "POST") != 0)
                SETOPT(CURLOPT_CUSTOMREQUEST, r.method);
        } else if (r.body) {
            /* sent at most once: streamed from memory with no way to rewind */
            SETOPT(CURLOPT_POST, 1L);
            SETOPT(CURLOPT_READFUNCTION, on_read);
            SETOPT(CURLOPT_READDATA, (void *)h);
            SETOPT(CURLOPT_SEEKFUNCTION, on_seek);
            SETOPT(CURLOPT_SEEKDATA, (void *)h);
            if (strcmp(r.method, "POST") != 0)
                SETOPT(CURLOPT_CUSTOMREQUEST, r.method);
            /* a fresh connection: a kept-alive one the server closes just as the
             * request goes out would turn an unprocessed write into an ambiguous
             * failure ("reset", may have been processed) */
            SETOPT(CURLOPT_FRESH_CONNECT, 1L);
        } else {
            SETOPT(CURLOPT_HTTPGET, 1L);
            if (strcmp(r.method, "GET") != 0)
                SETOPT(CURLOPT_CUSTOMREQUEST, r.method);
            /* nothing to refuse a rewind of: a fresh connection instead */
            if (!r.idempotent)
                SETOPT(CURLOPT_FRESH_CONNECT, 1L);
        }
        if (rc == CURLE_OK)
            keep_shape(h, &r);
    }
    if (rc != CURLE_OK) {
        forget_shape(h);
        return push_failure(L, h, rc, -1);
    }

    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        long req_size = -1;
        if (curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &req_size) != CURLE_OK)
            req_size = -1;
        request_done(h);
        return push_failure(L, h, rc, req_size < 0 ? -1 : req_size > 0);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);

    lua_createtable(L, 0, 5);
    base = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(K_STATUS));
    lua_pushinteger(L, (lua_Integer)status);
    lua_rawset(L, base);
    lua_pushvalue(L, lua_upvalueindex(K_HEADERS));
    push_headers(L, &h->head);
    lua_rawset(L, base);
    lua_pushvalue(L, lua_upvalueindex(K_BODY));
    lua_pushlstring(L, h->body.p ? h->body.p : "", h->body.len);
    lua_rawset(L, base);
    lua_pushvalue(L, lua_upvalueindex(K_ELAPSED));
    lua_pushnumber(L, (lua_Number)total_us / 1e6);
    lua_rawset(L, base);
    lua_pushvalue(L, lua_upvalueindex(K_REUSED));
    lua_pushboolean(L, nconn == 0);
    lua_rawset(L, base);
    request_done(h);
    return 1;
}

/* ---------------------------------------------------------------- registration */


static const luaL_Reg http_meta[] = {
    {"__gc", http_close},
    {"__close", http_close},
    {"__tostring", http_tostring},
    {NULL, NULL},
};

static const luaL_Reg http_funcs[] = {
    {"http_new", http_new},
    {"http_version", http_version},
    {NULL, NULL},
};

void skc_open_http(lua_State *L)
{
    if (luaL_newmetatable(L, HTTP_MT)) {
        luaL_setfuncs(L, http_meta, 0);
        int k;
        lua_createtable(L, 0, 2);
        for (k = 1; k <= K_COUNT; k++)
            lua_pushstring(L, key_names[k]);
        lua_pushcclosure(L, http_request, K_COUNT);
        lua_setfield(L, -2, "request");
        lua_pushcfunction(L, http_close);
        lua_setfield(L, -2, "close");
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, HTTP_MT);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, http_funcs, 0);
}
