/* Sorting Lua strings bytewise, for canonical forms (signers). The strings
 * stay anchored in a Lua table; the pointer array lives in a userdata so an
 * error anywhere cannot leak it. */
#include <stdlib.h>
#include <string.h>
#include "simkit.h"

static int cmp_slice(const void *a, const void *b)
{
    const skc_slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Insertion sort for the few entries of a request (glibc's qsort is a merge
 * sort that allocates), qsort beyond. */
void skc_sort_slices(skc_slice *v, size_t n)
{
    size_t i, j;
    if (n > 24) {
        qsort(v, n, sizeof *v, cmp_slice);
        return;
    }
    for (i = 1; i < n; i++) {
        skc_slice x = v[i];
        for (j = i; j > 0 && cmp_slice(&v[j - 1], &x) > 0; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

skc_slice *skc_sorted_strings(lua_State *L, int tidx, size_t *count)
{
    size_t n = (size_t)lua_rawlen(L, tidx), i;
    skc_slice *v;
    tidx = skc_absindex(L, tidx);
    v = (skc_slice *)lua_newuserdata(L, (n ? n : 1) * sizeof *v);
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, tidx, (int)i + 1);
        v[i].ptr = lua_tolstring(L, -1, &v[i].len);
        lua_pop(L, 1); /* still referenced by the table */
    }
    skc_sort_slices(v, n);
    *count = n;
    return v;
}
