/* simkit core: send one mail over SMTP with libcurl (the rules engine's
 * `mail` action).
 *
 *   core.smtp_send{ url = "smtp://host:port" | "smtps://...", from = addr,
 *                   to = { addr, ... }, message = "RFC 5322 text, CRLF",
 *                   username =, password =, timeout = seconds,
 *                   cafile =, insecure = bool }
 *     -> true | nil, message, category
 *
 * Misuse (wrong types, empty recipients) raises before anything is
 * allocated. The easy handle and the recipient list live in a userdata made
 * first, so an error on any path frees them (__gc and the explicit cleanup
 * are one idempotent function). The password never reaches a message. */
#include <string.h>
#include <curl/curl.h>
#include "simkit.h"

#define SMTP_MT "simkit.smtp"
#define SMTP_MAX_RCPT 100

typedef struct {
    CURL *curl;
    struct curl_slist *rcpt;
    const char *msg;
    size_t len, off;
    char errbuf[CURL_ERROR_SIZE];
} smtp_job;

static void job_free(smtp_job *j)
{
    if (j->rcpt != NULL) {
        curl_slist_free_all(j->rcpt);
        j->rcpt = NULL;
    }
    if (j->curl != NULL) {
        curl_easy_cleanup(j->curl);
        j->curl = NULL;
    }
}

static int smtp_gc(lua_State *L)
{
    job_free((smtp_job *)luaL_checkudata(L, 1, SMTP_MT));
    return 0;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    smtp_job *j = (smtp_job *)ud;
    size_t room = size * nitems, n = j->len - j->off;
    if (n > room)
        n = room;
    memcpy(buf, j->msg + j->off, n);
    j->off += n;
    return n;
}

static const char *opt_str(lua_State *L, const char *name, size_t *len)
{
    const char *s = NULL;
    lua_getfield(L, 1, name);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "smtp_send: field '%s' must be a string", name);
        s = lua_tolstring(L, -1, len);
    }
    /* left on the stack: it anchors the string (a value from an __index
     * metamethod is in no table, and the GC could free it once popped) */
    return s;
}

static int has_crlf(const char *s)
{
    return strchr(s, '\r') != NULL || strchr(s, '\n') != NULL;
}

static int l_smtp_send(lua_State *L)
{
    const char *url, *from, *user, *pass, *cafile, *msg;
    size_t msg_len = 0, nrcpt, i;
    double timeout = 30;
    int insecure, to;
    smtp_job *j;
    CURLcode rc;
    char fromb[512];

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    url = opt_str(L, "url", NULL);
    from = opt_str(L, "from", NULL);
    msg = opt_str(L, "message", &msg_len);
    user = opt_str(L, "username", NULL);
    pass = opt_str(L, "password", NULL);
    cafile = opt_str(L, "cafile", NULL);
    if (url == NULL || (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0))
        return luaL_error(L, "smtp_send: field 'url' must be an smtp:// or smtps:// URL");
    if (from == NULL || has_crlf(from) || strlen(from) > 400)
        return luaL_error(L, "smtp_send: field 'from' must be an address (no CR/LF, at most 400 bytes)");
    if (msg == NULL)
        return luaL_error(L, "smtp_send: field 'message' must be a string");
    lua_getfield(L, 1, "timeout");
    if (!lua_isnil(L, -1)) {
        timeout = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(timeout > 0 && timeout <= 3600))
            return luaL_error(L, "smtp_send: field 'timeout' must be seconds in (0, 3600]");
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "insecure");
    insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "to"); /* stays on the stack, at index `to` */
    to = lua_gettop(L);
    if (!lua_istable(L, to))
        return luaL_error(L, "smtp_send: field 'to' must be a list of addresses");
    nrcpt = (size_t)lua_rawlen(L, to);
    if (nrcpt == 0 || nrcpt > SMTP_MAX_RCPT)
        return luaL_error(L, "smtp_send: field 'to' must list 1 to %d addresses", SMTP_MAX_RCPT);
    for (i = 1; i <= nrcpt; i++) {
        const char *a;
        lua_rawgeti(L, to, (lua_Integer)i);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "smtp_send: to[%d] must be a string", (int)i);
        a = lua_tostring(L, -1);
        if (has_crlf(a) || strlen(a) > 400)
            return luaL_error(L, "smtp_send: to[%d] must be an address (no CR/LF)", (int)i);
        lua_pop(L, 1);
    }
    snprintf(fromb, sizeof fromb, "<%s>", from);

    /* the userdata first, then what it owns */
    j = (smtp_job *)lua_newuserdata(L, sizeof(*j));
    memset(j, 0, sizeof(*j));
    luaL_setmetatable(L, SMTP_MT);
    j->msg = msg;
    j->len = msg_len;
    for (i = 1; i <= nrcpt; i++) {
        char rb[512];
        struct curl_slist *n;
        lua_rawgeti(L, to, (lua_Integer)i);
        snprintf(rb, sizeof rb, "<%s>", lua_tostring(L, -1));
        lua_pop(L, 1);
        n = curl_slist_append(j->rcpt, rb);
        if (n == NULL) {
            job_free(j);
            lua_pushnil(L);
            lua_pushliteral(L, "smtp: out of memory");
            lua_pushliteral(L, "other");
            return 3;
        }
        j->rcpt = n;
    }
    j->curl = curl_easy_init();
    if (j->curl == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "smtp: curl_easy_init failed");
        lua_pushliteral(L, "other");
        return 3;
    }
    curl_easy_setopt(j->curl, CURLOPT_URL, url);
    curl_easy_setopt(j->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(j->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->curl, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(j->curl, CURLOPT_MAIL_FROM, fromb);
    curl_easy_setopt(j->curl, CURLOPT_MAIL_RCPT, j->rcpt);
    curl_easy_setopt(j->curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(j->curl, CURLOPT_READDATA, j);
    curl_easy_setopt(j->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(j->curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(j->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)((timeout < 10 ? timeout : 10) * 1000));
    if (user != NULL)
        curl_easy_setopt(j->curl, CURLOPT_USERNAME, user);
    if (pass != NULL)
        curl_easy_setopt(j->curl, CURLOPT_PASSWORD, pass);
    if (cafile != NULL)
        curl_easy_setopt(j->curl, CURLOPT_CAINFO, cafile);
    if (insecure) {
        curl_easy_setopt(j->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(j->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* STARTTLS when the server offers it on smtp://; required on smtps:// */
    curl_easy_setopt(j->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    rc = curl_easy_perform(j->curl);
    if (rc != CURLE_OK) {
        const char *cat = rc == CURLE_OPERATION_TIMEDOUT ? "timeout"
                        : rc == CURLE_COULDNT_CONNECT ? "connect"
                        : rc == CURLE_LOGIN_DENIED ? "auth" : "other";
        lua_pushnil(L);
        lua_pushfstring(L, "smtp: %s%s%s", curl_easy_strerror(rc), j->errbuf[0] ? ": " : "", j->errbuf);
        lua_pushstring(L, cat);
        job_free(j);
        return 3;
    }
    job_free(j);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg funcs[] = {
    { "smtp_send", l_smtp_send },
    { NULL, NULL }
};

void skc_open_smtp(lua_State *L)
{
    if (luaL_newmetatable(L, SMTP_MT)) {
        lua_pushcfunction(L, smtp_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
