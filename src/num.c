/* The one way a Lua number becomes text (JSON encoder, EIOTCLUB signer). */
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

size_t skc_format_number(lua_State *L, int idx, char *buf)
{
    double d;
    int n, prec;
#if SKC_HAS_INT64
    if (lua_isinteger(L, idx)) {
        n = snprintf(buf, SKC_NUMBUF, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        return (size_t)n;
    }
#endif
    d = (double)lua_tonumber(L, idx);
    if (isnan(d) || isinf(d))
        return 0;
    /* An integral value within int64 prints as an integer: 500.0 -> "500". */
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        n = snprintf(buf, SKC_NUMBUF, "%lld", (long long)d);
        return (size_t)n;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, SKC_NUMBUF, "%.*g", prec, d);
        fix_decimal_point(buf);
        if (parse_back(buf) == d)
            break;
    }
    return strlen(buf);
}
