/* The one way a Lua number becomes text (JSON encoder, EIOTCLUB signer). */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "simkit.h"

/* Replace a locale's decimal comma: hosts (nginx modules, users) may have
 * called setlocale(LC_NUMERIC, ...). */
static void fix_decimal_point(char *s)
{
    for (; *s; s++)
        if (*s == ',')
            *s = '.';
}

/* strtod honours the locale too: give it the locale's decimal point. */
static double parse_back(const char *s)
{
    char tmp[SKC_NUMBUF];
    const char *dp = localeconv()->decimal_point;
    size_t i, n = strlen(s);
    if (n >= sizeof tmp)
        return NAN;
    for (i = 0; i <= n; i++)
        tmp[i] = (s[i] == '.' && dp[0] != '\0' && dp[1] == '\0') ? dp[0] : s[i];
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
        n = snprintf(buf, SKC_NUMBUF, "%.*g", prec, d);
        fix_decimal_point(buf);
        if (parse_back(buf) == d)
            break;
    }
    return (size_t)n;
}
