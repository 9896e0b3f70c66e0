/* A small binding to libsqlite3 for simkit.store.sqlite: one connection per
 * userdata, prepared statements cached per connection, exact int64 binding.
 *
 *   core.sqlite_open(path, busy_ms) -> db | nil, message   (a new file is mode 0600)
 *   db:exec(sql)                    -> true | nil, message, code
 *   db:run(sql, ...)                -> true, first column of the first row
 *                                      (nil when none), changes | nil, message, code
 *   db:close()                      (idempotent; also __gc)
 *
 * Parameters bind by position: nil -> NULL, boolean -> 0/1, integer ->
 * int64, float -> double, string -> text. Integral floats also bind as
 * int64 on Lua 5.1/LuaJIT (which have no integer type). Nothing lives in
 * C statics. */
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "simkit.h"

#define DB_MT "simkit.core.sqlite"
#define NCACHE 16

typedef struct {
    char *sql;
    sqlite3_stmt *st;
} cached;

typedef struct {
    sqlite3 *db;
    cached cache[NCACHE];
    int next; /* the slot replaced when the cache is full */
} skc_db;

static void db_free(skc_db *d)
{
    int i;
    for (i = 0; i < NCACHE; i++) {
        if (d->cache[i].st) sqlite3_finalize(d->cache[i].st);
        sqlite3_free(d->cache[i].sql);
        d->cache[i].st = NULL;
        d->cache[i].sql = NULL;
    }
    if (d->db) sqlite3_close_v2(d->db);
    d->db = NULL;
}

static skc_db *check_db(lua_State *L)
{
    skc_db *d = (skc_db *)luaL_checkudata(L, 1, DB_MT);
    if (!d->db) luaL_error(L, "simkit.core.sqlite: the database is closed");
    return d;
}

static int push_error(lua_State *L, sqlite3 *db, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    lua_pushinteger(L, rc);
    return 3;
}

/* core.sqlite_open(path, busy_ms) */
static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Number busy = luaL_optnumber(L, 2, 5000);
    skc_db *d;
    int rc;
    luaL_argcheck(L, busy >= 0 && busy <= 3600000, 2, "busy timeout must be 0..3600000 ms");
    /* the userdata first: an error below can never leak the connection */
    d = (skc_db *)lua_newuserdata(L, sizeof *d);
    memset(d, 0, sizeof *d);
    luaL_setmetatable(L, DB_MT);
    /* a new file is private (0600): the store may hold tokens; SQLite gives
     * the -wal and -shm files the database file's permissions */
    if (strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushstring(L, d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        db_free(d);
        return 2;
    }
    sqlite3_extended_result_codes(d->db, 0);
    sqlite3_busy_timeout(d->db, (int)busy);
    return 1;
}

static int l_exec(lua_State *L)
{
    skc_db *d = check_db(L);
    const char *sql = luaL_checkstring(L, 2);
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return push_error(L, d->db, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* The cached statement for sql, prepared when new; NULL with rc set on failure. */
static sqlite3_stmt *prepare(skc_db *d, const char *sql, size_t len, int *rc)
{
    int i, slot = -1;
    cached *c;
    for (i = 0; i < NCACHE; i++) {
        if (d->cache[i].sql && strcmp(d->cache[i].sql, sql) == 0) return d->cache[i].st;
        if (slot < 0 && !d->cache[i].sql) slot = i;
    }
    if (slot < 0) {
        slot = d->next;
        d->next = (d->next + 1) % NCACHE;
    }
    c = &d->cache[slot];
    if (c->st) sqlite3_finalize(c->st);
    sqlite3_free(c->sql);
    c->st = NULL;
    c->sql = NULL;
    *rc = sqlite3_prepare_v3(d->db, sql, (int)len + 1, SQLITE_PREPARE_PERSISTENT, &c->st, NULL);
    if (*rc != SQLITE_OK) {
        sqlite3_finalize(c->st);
        c->st = NULL;
        return NULL;
    }
    c->sql = sqlite3_mprintf("%s", sql);
    if (!c->sql) {
        sqlite3_finalize(c->st);
        c->st = NULL;
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    return c->st;
}

static int bind_arg(lua_State *L, sqlite3_stmt *st, int i, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return sqlite3_bind_null(st, i);
    case LUA_TBOOLEAN:
        return sqlite3_bind_int(st, i, lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        lua_Number n;
        if (lua_isinteger(L, idx)) return sqlite3_bind_int64(st, i, (sqlite3_int64)lua_tointeger(L, idx));
        n = lua_tonumber(L, idx);
        if (SKC_LUA51 && n == floor(n) && fabs(n) <= 9007199254740992.0)
            return sqlite3_bind_int64(st, i, (sqlite3_int64)n);
        return sqlite3_bind_double(st, i, (double)n);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return sqlite3_bind_text64(st, i, s, (sqlite3_uint64)len, SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    default:
        return luaL_argerror(L, idx, "sqlite parameters are nil, booleans, numbers or strings");
    }
}

static void push_column(lua_State *L, sqlite3_stmt *st)
{
    switch (sqlite3_column_type(st, 0)) {
    case SQLITE_INTEGER:
        lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, 0));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, (lua_Number)sqlite3_column_double(st, 0));
        break;
    case SQLITE_NULL:
        lua_pushnil(L);
        break;
    default: {
        const void *p = sqlite3_column_blob(st, 0);
        lua_pushlstring(L, p ? (const char *)p : "", (size_t)sqlite3_column_bytes(st, 0));
        break;
    }
    }
}

/* db:run(sql, ...) */
static int l_run(lua_State *L)
{
    skc_db *d = check_db(L);
    size_t len;
    const char *sql = luaL_checklstring(L, 2, &len);
    int top = lua_gettop(L), i, rc = SQLITE_OK;
    sqlite3_stmt *st = prepare(d, sql, len, &rc);
    if (!st && rc == SQLITE_OK) /* blank or comment-only text: SQLite makes no statement */
        return luaL_error(L, "simkit.core.sqlite: the SQL text holds no SQL statement");
    if (!st) return push_error(L, d->db, rc);
    if (top - 2 > sqlite3_bind_parameter_count(st)) {
        sqlite3_reset(st);
        return luaL_error(L, "simkit.core.sqlite: %d parameters for a statement that takes %d",
                          top - 2, sqlite3_bind_parameter_count(st));
    }
    sqlite3_clear_bindings(st);
    for (i = 3; i <= top; i++) {
        rc = bind_arg(L, st, i - 2, i);
        if (rc != SQLITE_OK) {
            sqlite3_clear_bindings(st);
            return push_error(L, d->db, rc);
        }
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        lua_pushboolean(L, 1);
        push_column(L, st);
        /* drain: a RETURNING statement finishes its writes on the first step,
         * the remaining rows only need reading */
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
    } else {
        lua_pushboolean(L, 1);
        lua_pushnil(L);
    }
    if (rc != SQLITE_DONE) {
        lua_pop(L, 2);
        push_error(L, d->db, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return 3;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    lua_pushinteger(L, (lua_Integer)sqlite3_changes(d->db));
    return 3;
}

static int l_close(lua_State *L)
{
    skc_db *d = (skc_db *)luaL_checkudata(L, 1, DB_MT);
    db_free(d);
    return 0;
}

static int l_tostring(lua_State *L)
{
    skc_db *d = (skc_db *)luaL_checkudata(L, 1, DB_MT);
    lua_pushstring(L, d->db ? "simkit.core.sqlite (open)" : "simkit.core.sqlite (closed)");
    return 1;
}

static const luaL_Reg db_methods[] = {
    { "exec", l_exec },
    { "run", l_run },
    { "close", l_close },
    { NULL, NULL },
};

static const luaL_Reg funcs[] = {
    { "sqlite_open", l_open },
    { NULL, NULL },
};

void skc_open_sqlite(lua_State *L)
{
    if (luaL_newmetatable(L, DB_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, db_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
