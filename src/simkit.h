/* simkit core: internal declarations shared by the C files.
 *
 * Each concern lives in its own file and exposes one registration function
 * `skc_open_<concern>(lua_State *L)`: it is called by luaopen_simkit_core with
 * the module table on top of the stack and sets its functions into it
 * (luaL_setfuncs(L, funcs, 0)). No state lives in C statics: OpenResty may run
 * several Lua VMs in threads. */
#ifndef SIMKIT_H
#define SIMKIT_H

#include <stddef.h>
#include "compat.h"

#if defined(__GNUC__)
#define SKC_EXPORT __attribute__((visibility("default")))
#define SKC_LOCAL __attribute__((visibility("hidden")))
#else
#define SKC_EXPORT
#define SKC_LOCAL
#endif

SKC_LOCAL void skc_open_crypto(lua_State *L);
SKC_LOCAL void skc_open_json(lua_State *L);
SKC_LOCAL void skc_open_http(lua_State *L);
SKC_LOCAL void skc_open_clock(lua_State *L);
SKC_LOCAL void skc_open_sqlite(lua_State *L);
SKC_LOCAL void skc_open_cdr(lua_State *L);
SKC_LOCAL void skc_open_smtp(lua_State *L);
SKC_LOCAL void skc_open_num(lua_State *L);
SKC_LOCAL int skc_sign_eiotclub(lua_State *L);
SKC_LOCAL int skc_sign_huawei(lua_State *L);
SKC_LOCAL extern const char *const skc_huawei_names[]; /* its upvalues 2.., NULL-ended */

/* num.c: the one way a Lua number becomes text, shared by the JSON encoder
 * and the EIOTCLUB signer so a signature covers exactly the bytes sent.
 * Integers (and floats with an integral value that fit in int64) print as
 * integers; other finite floats print in the shortest form that reads back
 * to the same double. Returns the length written into buf (>= 32 bytes), or
 * 0 when the value is NaN or infinite. */
#define SKC_NUMBUF 48
SKC_LOCAL size_t skc_format_number(lua_State *L, int idx, char *buf);

/* crypto.c: the per-state crypto objects (digests and HMAC fetched once per
 * Lua state), the upvalue of the crypto functions and of the signers, which
 * skc_open_crypto registers too; skc_crypto_of(L) inside those functions.
 * SKC_SCRATCH scratch buffers owned by it (freed by __gc, so a Lua error
 * cannot leak them); skc_scratch_done after use drops large ones. */
typedef struct skc_crypto skc_crypto;
typedef struct { void *p; size_t cap; } skc_scratch;
#define SKC_SCRATCH 4
#define SKC_SHA1 1
#define SKC_SHA256 2
SKC_LOCAL skc_crypto *skc_crypto_of(lua_State *L);
SKC_LOCAL void *skc_scratch_get(skc_crypto *c, int which, size_t n);
SKC_LOCAL void skc_scratch_done(skc_crypto *c);
SKC_LOCAL int skc_digest(skc_crypto *c, int which, const void *data, size_t len, unsigned char *out);
SKC_LOCAL int skc_digest_begin(skc_crypto *c, int which);
SKC_LOCAL int skc_digest_update(skc_crypto *c, const void *data, size_t len);
SKC_LOCAL int skc_digest_final(skc_crypto *c, unsigned char *out, size_t outlen);
SKC_LOCAL int skc_hmac_sha256(skc_crypto *c, const void *key, size_t klen, const void *data,
                              size_t len, unsigned char out[32]);
SKC_LOCAL void skc_hex(const unsigned char *in, size_t len, char *out, int upper);
/* The value of one hex digit (either case), or -1. */
SKC_LOCAL int skc_hex_value(int c);

/* strsort.c: the strings of the array table at tidx, sorted bytewise. The
 * pointer array is a userdata pushed on the stack (pop it when done); the
 * table keeps the strings alive. */
typedef struct { const char *ptr; size_t len; } skc_slice;
SKC_LOCAL skc_slice *skc_sorted_strings(lua_State *L, int tidx, size_t *count);
SKC_LOCAL void skc_sort_slices(skc_slice *v, size_t n);

#endif
