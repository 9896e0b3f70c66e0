/* EIOTCLUB CDR CSV: one pass over the bytes, typed rows (simkit.eiotclub.cdr).
 *
 * core.cdr_parse(text, init, lineno, final, max_line, rows, n, skipping)
 *   -> next_pos, lineno, n, message | nil, skipping
 *
 * Parses the complete lines of `text` from byte `init` (1-based), appending
 * one row table per data line to `rows` at n+1, n+2, ... `lineno` is the
 * number of lines before `init` (so the first line parsed is lineno+1; line 1
 * may be the header). Line ends are LF, CRLF or CR. When `final` is false the
 * text is a piece of a longer stream: a last line without its end (or ending
 * in a CR that a LF may follow) is left for the next call. On a bad line the
 * call stops after it and returns a message (the line is `lineno`, returned);
 * the caller decides whether to go on from `next_pos`. A line longer than
 * `max_line` bytes is bad; when its end is not in this piece the call returns
 * `skipping` = true, and the next call (given `skipping`) drops bytes up to
 * the line's end before parsing on. Every byte is looked at a bounded number
 * of times: linear time whatever the input.
 *
 * Keys of the row tables are interned once as upvalues. No C statics. */
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include "simkit.h"

enum { K_ID = 1, K_START, K_STOP, K_START_TEXT, K_STOP_TEXT, K_ICCID, K_IMSI, K_USAGE,
       K_IMEI, K_MCCMNC, K_LINE, K_COUNT = K_LINE };

static const char *const KEYS[K_COUNT] = {
    "id", "start_time", "stop_time", "start_time_text", "stop_time_text", "iccid", "imsi",
    "data_usage", "imei", "mccmnc", "line",
};

#define NFIELDS 8
static const char *const HEADER[NFIELDS] = {
    "id", "start_time", "stop_time", "iccid", "imsi", "data_usage", "imei", "mccmnc",
};

typedef struct { const char *p; size_t n; } field;

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static field trim(const char *p, size_t n)
{
    field f;
    while (n > 0 && is_blank((unsigned char)*p)) { p++; n--; }
    while (n > 0 && is_blank((unsigned char)p[n - 1])) n--;
    f.p = p;
    f.n = n;
    return f;
}

/* Split one line (no line end) into at most NFIELDS+1 trimmed fields.
 * Quoted fields ("a ""b"" c") are unquoted into `scratch` (as long as the
 * line). Returns the field count, or -1 with *why set. */
static int split(const char *line, size_t len, field *out, char *scratch, const char **why)
{
    size_t i = 0;
    int nf = 0;
    for (;;) {
        size_t s = i;
        while (s < len && is_blank((unsigned char)line[s])) s++;
        if (nf == NFIELDS + 1) return nf; /* enough to say "too many" */
        if (s < len && line[s] == '"') {
            char *w = scratch;
            size_t j = s + 1;
            for (;;) {
                const char *q = j < len ? memchr(line + j, '"', len - j) : NULL;
                if (!q) { *why = "unterminated quoted field"; return -1; }
                size_t qi = (size_t)(q - line);
                memcpy(w, line + j, qi - j);
                w += qi - j;
                if (qi + 1 < len && line[qi + 1] == '"') {
                    *w++ = '"';
                    j = qi + 2;
                } else {
                    j = qi + 1;
                    break;
                }
            }
            out[nf++] = trim(scratch, (size_t)(w - scratch));
            scratch = w;
            while (j < len && is_blank((unsigned char)line[j])) j++;
            if (j == len) return nf;
            if (line[j] != ',') { *why = "unexpected text after a quoted field"; return -1; }
            i = j + 1;
        } else {
            const char *c = i < len ? memchr(line + i, ',', len - i) : NULL;
            size_t e = c ? (size_t)(c - line) : len;
            out[nf++] = trim(line + i, e - i);
            if (!c) return nf;
            i = e + 1;
        }
    }
}

/* A decimal of digits only (leading zeros allowed) that fits in int64. */
static int parse_u63(field f, uint64_t *v)
{
    uint64_t x = 0;
    if (f.n == 0) return 0;
    for (size_t i = 0; i < f.n; i++) {
        unsigned d = (unsigned)(unsigned char)f.p[i] - '0';
        if (d > 9) return 0;
        if (x > (UINT64_C(9223372036854775807) - d) / 10) return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

static void push_u63(lua_State *L, uint64_t v)
{
#if SKC_HAS_INT64
    lua_pushinteger(L, (lua_Integer)v);
#else
    if (v <= UINT64_C(9007199254740992)) {
        lua_pushnumber(L, (lua_Number)v);
    } else { /* a double could not hold it: its decimal text */
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
        lua_pushlstring(L, buf, (size_t)n);
    }
#endif
}

static int two(const char *p)
{
    unsigned a = (unsigned)(unsigned char)p[0] - '0', b = (unsigned)(unsigned char)p[1] - '0';
    return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2) y -= 1;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* `yyyy-MM-dd HH:mm:ss` (UTC) -> epoch seconds; 0 when malformed. */
static int parse_time(field f, int64_t *out)
{
    static const unsigned char MDAYS[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *p = f.p;
    if (f.n != 19 || p[4] != '-' || p[7] != '-' || p[10] != ' ' || p[13] != ':' || p[16] != ':')
        return 0;
    int y1 = two(p), y2 = two(p + 2), mo = two(p + 5), d = two(p + 8);
    int h = two(p + 11), mi = two(p + 14), s = two(p + 17);
    if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        s < 0 || s > 59)
        return 0;
    int y = y1 * 100 + y2;
    int dim = MDAYS[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    if (d > dim) return 0;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 1;
}

#define KEY(k) lua_pushvalue(L, lua_upvalueindex(k))

static void set_str(lua_State *L, int k, field f)
{
    KEY(k);
    lua_pushlstring(L, f.p, f.n);
    lua_rawset(L, -3);
}

static void set_int(lua_State *L, int k, int64_t v)
{
    KEY(k);
#if SKC_HAS_INT64
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
    lua_rawset(L, -3);
}

/* The message for a bad value: its text shortened to 40 bytes. */
static const char *bad_value(lua_State *L, const char *name, field f, const char *what)
{
    lua_pushlstring(L, f.p, f.n > 40 ? 40 : f.n);
    if (f.n > 40)
        return lua_pushfstring(L, "%s '%s...' (%d bytes) is not %s", name, lua_tostring(L, -1), (int)f.n, what);
    return lua_pushfstring(L, "%s '%s' is not %s", name, lua_tostring(L, -1), what);
}

static int is_header(const field *f, int nf)
{
    if (nf != NFIELDS) return 0;
    for (int i = 0; i < NFIELDS; i++) {
        size_t n = strlen(HEADER[i]);
        if (f[i].n != n) return 0;
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)f[i].p[j];
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            if (c != (unsigned char)HEADER[i][j]) return 0;
        }
    }
    return 1;
}

/* One line -> a row pushed on the stack (returns 1), nothing for a blank or
 * header line (returns 0), or an error message pushed (returns -1). */
static int parse_line(lua_State *L, const char *line, size_t len, lua_Integer lineno, char *scratch)
{
    field f[NFIELDS + 1];
    const char *why = NULL;
    if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { line += 3; len -= 3; }
    field all = trim(line, len);
    if (all.n == 0) return 0;
    int nf = split(line, len, f, scratch, &why);
    if (nf < 0) { lua_pushstring(L, why); return -1; }
    if (f[0].n == 2 && (f[0].p[0] | 32) == 'i' && (f[0].p[1] | 32) == 'd') {
        if (lineno == 1 && is_header(f, nf)) return 0;
        lua_pushstring(L, lineno == 1
            ? "a header must be exactly id,start_time,stop_time,iccid,imsi,data_usage,imei,mccmnc"
            : "id 'id' is not a 64-bit integer (only line 1 may be a header)");
        return -1;
    }
    if (nf != NFIELDS) {
        lua_pushfstring(L, "expected 8 fields, got %s%d", nf > NFIELDS ? "more than " : "",
                        nf > NFIELDS ? NFIELDS : nf);
        return -1;
    }
    uint64_t id, usage;
    int64_t st, et;
    if (!parse_u63(f[0], &id)) { bad_value(L, "id", f[0], "a 64-bit integer"); return -1; }
    if (!parse_time(f[1], &st)) { bad_value(L, "start_time", f[1], "yyyy-MM-dd HH:mm:ss"); return -1; }
    if (!parse_time(f[2], &et)) { bad_value(L, "stop_time", f[2], "yyyy-MM-dd HH:mm:ss"); return -1; }
    if (f[3].n == 0) { lua_pushliteral(L, "iccid is empty"); return -1; }
    if (!parse_u63(f[5], &usage)) {
        bad_value(L, "data_usage", f[5], "a non-negative 64-bit integer");
        return -1;
    }
    lua_createtable(L, 0, K_COUNT);
    KEY(K_ID);
    push_u63(L, id);
    lua_rawset(L, -3);
    set_int(L, K_START, st);
    set_int(L, K_STOP, et);
    set_str(L, K_START_TEXT, f[1]);
    set_str(L, K_STOP_TEXT, f[2]);
    set_str(L, K_ICCID, f[3]);
    set_str(L, K_IMSI, f[4]);
    KEY(K_USAGE);
    push_u63(L, usage);
    lua_rawset(L, -3);
    set_str(L, K_IMEI, f[6]);
    set_str(L, K_MCCMNC, f[7]);
    set_int(L, K_LINE, (int64_t)lineno);
    return 1;
}

/* The end of the line starting at p (avail bytes): the index of its CR or
 * LF, or avail. */
static size_t line_end(const char *p, size_t avail)
{
    size_t e = 0;
    while (e < avail && p[e] != '\n' && p[e] != '\r') e++;
    return e;
}

/* Bytes after a line ending at e (0, or its CR, LF or CRLF); -1 when the
 * text ends in a CR that a LF may follow in the next piece. */
static long line_end_len(const char *p, size_t e, size_t avail, int final)
{
    if (e == avail) return 0;
    if (p[e] == '\n') return 1;
    if (e + 1 < avail) return p[e + 1] == '\n' ? 2 : 1;
    return final ? 1 : -1;
}

static int l_cdr_parse(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    lua_Integer init = luaL_checkinteger(L, 2);
    lua_Integer lineno = luaL_checkinteger(L, 3);
    int final = lua_toboolean(L, 4);
    lua_Integer max_line = luaL_checkinteger(L, 5);
    luaL_checktype(L, 6, LUA_TTABLE);
    lua_Integer n = luaL_checkinteger(L, 7);
    int skipping = lua_toboolean(L, 8);
    luaL_argcheck(L, init >= 1 && (size_t)init <= len + 1, 2, "position out of range");
    luaL_argcheck(L, max_line >= 1, 5, "max_line must be >= 1");
    lua_settop(L, 8);
    size_t pos = (size_t)init - 1;
    /* scratch for unquoting: a line is never longer than max_line; a userdata
     * so that a raise (out of memory) cannot leak it */
    size_t cap = (size_t)max_line < len - pos ? (size_t)max_line : len - pos;
    char *scratch = lua_newuserdata(L, cap + 1);
    int nerr = 0;
    if (skipping) { /* the rest of a line already reported as too long */
        size_t e = line_end(text + pos, len - pos);
        long el = line_end_len(text + pos, e, len - pos, final);
        if (e == len - pos) {
            pos = len;
        } else if (el < 0) {
            pos += e; /* keep the CR for the next piece */
        } else {
            pos += e + (size_t)el;
            skipping = 0;
        }
        if (skipping && !final) goto done;
        skipping = 0;
    }
    while (pos < len) {
        const char *p = text + pos;
        size_t avail = len - pos;
        size_t lim = avail < (size_t)max_line + 1 ? avail : (size_t)max_line + 1;
        size_t e = line_end(p, lim);
        if (e == lim && e > (size_t)max_line) {
            /* too long: reported; the scan goes on to its end (once) */
            e += line_end(p + e, avail - e);
            long el = line_end_len(p, e, avail, final);
            lineno++;
            lua_pushfstring(L, "line longer than max_line (%d bytes)", (int)max_line);
            nerr = 1;
            if (!final && (e == avail || el < 0)) { /* continues in the next piece */
                pos += e;
                skipping = 1;
            } else {
                pos += e + (size_t)el;
            }
            break;
        }
        long el = line_end_len(p, e, avail, final);
        if ((e == avail && !final) || el < 0) break; /* incomplete: the next piece has the rest */
        lineno++;
        int r = parse_line(L, p, e, lineno, scratch);
        pos += e + (size_t)el;
        if (r < 0) { nerr = 1; break; }
        if (r > 0) lua_rawseti(L, 6, (int)++n);
    }
done:
    lua_pushinteger(L, (lua_Integer)pos + 1);
    lua_pushinteger(L, lineno);
    lua_pushinteger(L, n);
    if (nerr) lua_pushvalue(L, -4); /* the message */
    else lua_pushnil(L);
    lua_pushboolean(L, skipping);
    return 5;
}

/* core.utc_epoch(text) -> epoch seconds of `yyyy-MM-dd HH:mm:ss` (UTC) | nil */
static int l_utc_epoch(lua_State *L)
{
    field f;
    int64_t t;
    f.p = luaL_checklstring(L, 1, &f.n);
    if (!parse_time(f, &t)) return 0;
#if SKC_HAS_INT64
    lua_pushinteger(L, (lua_Integer)t);
#else
    lua_pushnumber(L, (lua_Number)t);
#endif
    return 1;
}

void skc_open_cdr(lua_State *L)
{
    for (int k = 0; k < K_COUNT; k++) lua_pushstring(L, KEYS[k]);
    lua_pushcclosure(L, l_cdr_parse, K_COUNT);
    lua_setfield(L, -2, "cdr_parse");
    lua_pushcfunction(L, l_utc_epoch);
    lua_setfield(L, -2, "cdr_utc_epoch");
}
