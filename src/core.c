/* simkit.core: the C core's one exported symbol. Each concern registers its
 * functions into the module table (see simkit.h). */
#include "simkit.h"

SKC_EXPORT int luaopen_simkit_core(lua_State *L);

SKC_EXPORT int luaopen_simkit_core(lua_State *L)
{
    lua_newtable(L);
    skc_open_crypto(L); /* and the signers */
    skc_open_json(L);
    skc_open_http(L);
    skc_open_clock(L);
    skc_open_sqlite(L);
    skc_open_cdr(L);
    skc_open_smtp(L);
    skc_open_num(L);
    lua_pushliteral(L, "simkit.core 0.1.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
