/* The one way a Lua number becomes text (JSON encoder, EIOTCLUB signer),
 * and integer text made canonical (core.int_text). */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "simkit.h"

/* Replace the locale's decimal point, a ',' or a multibyte one (ps_AF's
 * U+066B): hosts (nginx modules, users) may have called
 * setlocale(LC_NUMERIC, ...). */
static void fix_decimal_point(char *s)
{
    const char *dp = localeconv()->decimal_point;
    size_t dplen = dp ? strlen(dp) : 0;
    char *p;
    if (dplen == 0 || (dplen == 1 && dp[0] == '.'))
        return;
    p = strstr(s, dp);
    if (p != NULL) {
        *p = '.';
        memmove(p + 1, p + dplen, strlen(p + dplen) + 1);
    }
}

/* strtod honours the locale too: give it the locale's decimal point. */
static double parse_back(const char *s)
{
    char tmp[SKC_NUMBUF + 8];
    const char *dp = localeconv()->decimal_point;
    size_t dplen = dp && *dp ? strlen(dp) : 0, o = 0;
    for (; *s; s++) {
        if (o + dplen + 1 >= sizeof tmp)
            return NAN;
        if (*s == '.' && dplen > 0) {
            memcpy(tmp + o, dp, dplen);
            o += dplen;
        } else {
            tmp[o++] = *s;
        }
    }
    tmp[o] = '\0';
    return strtod(tmp, NULL);
}

/* "%lld" without printf (the signers and the encoder print many integers). */
static size_t format_int(long long v, char *buf)
{
    char tmp[24];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0, o = 0;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u > 0);
    if (v < 0)
        buf[o++] = '-';
    while (n > 0)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
    return o;
}

/* A short decimal: d == m / 10^k for an integer m of at most 15 digits and
 * 1 <= k <= 9, with 1e-4 <= |d| < 1e15. Then "%.15g" prints exactly m's
 * digits (a double is within half an ulp of m / 10^k, less than half a unit
 * of its 15th digit) in fixed notation, trailing zeros dropped, and they
 * read back to d: the same bytes as the loop below, without printf and
 * strtod (most of an encode's time on pages of prices and volumes).
 * Returns the length, or 0 when d is not such a number. */
static size_t format_short_decimal(double d, char *buf)
{
    static const double p10[] = { 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
    double a = fabs(d);
    int k;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (k = 0; k < 9; k++) {
        double m = a * p10[k];
        if (m >= 1e15)
            return 0;
        if (m == floor(m) && m / p10[k] == a) {
            unsigned long long u = (unsigned long long)m;
            char digits[24];
            int nd = 0, frac = k + 1, i;
            size_t o = 0;
            while (frac > 0 && u % 10 == 0) { /* trailing zeros of the fraction */
                u /= 10;
                frac--;
            }
            do {
                digits[nd++] = (char)('0' + (int)(u % 10));
                u /= 10;
            } while (u > 0);
            while (nd <= frac) /* a leading "0." */
                digits[nd++] = '0';
            if (d < 0)
                buf[o++] = '-';
            for (i = nd - 1; i >= 0; i--) {
                buf[o++] = digits[i];
                if (i == frac && frac > 0)
                    buf[o++] = '.';
            }
            buf[o] = '\0';
            return o;
        }
    }
    return 0;
}

size_t skc_format_number(lua_State *L, int idx, char *buf)
{
    size_t len;
    double d;
    int prec;
#if SKC_HAS_INT64
    if (lua_isinteger(L, idx))
        return format_int((long long)lua_tointeger(L, idx), buf);
#endif
    d = (double)lua_tonumber(L, idx);
    if (isnan(d) || isinf(d))
        return 0;
    /* An integral value within int64 prints as an integer: 500.0 -> "500". */
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return format_int((long long)d, buf);
    len = format_short_decimal(d, buf);
    if (len > 0)
        return len;
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, SKC_NUMBUF, "%.*g", prec, d);
        fix_decimal_point(buf);
        if (parse_back(buf) == d)
            break;
    }
    return strlen(buf);
}

/* core.int_text(s) -> the canonical text of an integer written as text
 * ("-?[0-9]+": leading zeros dropped, "-0" is "0"; s itself when it is
 * already canonical), or nil for anything else. No range check: the text
 * stays exact whatever its size (64-bit ids on LuaJIT). One C pass: the
 * patterns it replaces ("^%-?%d+$", then "^(%-?)0*(%d-)$") cost 1.3k and
 * 3.6k instructions for 18 digits on LuaJIT (2k and 4.6k on Lua 5.4). */
static int l_int_text(lua_State *L)
{
    size_t n, i, neg, first;
    const char *s = luaL_checklstring(L, 1, &n);
    neg = n > 0 && s[0] == '-';
    for (i = neg; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            break;
    if (i < n || n == neg) { /* not digits, or "" or "-" */
        lua_pushnil(L);
        return 1;
    }
    for (first = neg; first + 1 < n && s[first] == '0'; first++)
        ;
    if (s[first] == '0') /* zero, whatever its sign and zeros */
        lua_pushliteral(L, "0");
    else if (first == neg)
        lua_pushvalue(L, 1); /* canonical already: no new string */
    else if (!neg)
        lua_pushlstring(L, s + first, n - first);
    else {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addchar(&b, '-');
        luaL_addlstring(&b, s + first, n - first);
        luaL_pushresult(&b);
    }
    return 1;
}

void skc_open_num(lua_State *L)
{
    lua_pushcfunction(L, l_int_text);
    lua_setfield(L, -2, "int_text");
}
