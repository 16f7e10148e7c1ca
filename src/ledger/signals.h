/* Stop signals routed to the interpreter's SIGINT handler (signals.c). */
#ifndef OMH_LEDGER_SIGNALS_H
#define OMH_LEDGER_SIGNALS_H

#include <lua.h>

int omh_ledger_interrupt_on_signals(lua_State *L);
int omh_ledger_ignore_signals(lua_State *L);
int omh_ledger_kill_self(lua_State *L);

#endif
