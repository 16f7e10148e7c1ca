/* SIGTERM, SIGHUP and every SIGINT made to act like the first Ctrl-C: the
 * standalone interpreter (lua.c, luajit.c) turns its first SIGINT into an
 * "interrupted!" error at the next Lua instruction, then restores the
 * default action. Its handler is taken once and called for each of these
 * signals, and re-armed on SIGINT, so the CLI's cleanup (recording what was
 * paid) runs however the process is asked to stop. Only a function pointer
 * is kept: no Lua state. */
#include <signal.h>
#include <string.h>

#include "../compat.h"
#include "signals.h"

static void (*interpreter_handler)(int);

static void install(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void forward(int sig) {
  (void)sig;
  if (interpreter_handler) interpreter_handler(SIGINT);
  install(SIGINT, forward);
}

/* interrupt_on_signals(): true when the interpreter's handler was found (a
 * script run by lua/luajit), false inside hosts that have none. */
int omh_ledger_interrupt_on_signals(lua_State *L) {
  struct sigaction old;
  sigaction(SIGINT, NULL, &old);
  if (old.sa_handler != forward) {
    if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN || (old.sa_flags & SA_SIGINFO)) {
      lua_pushboolean(L, 0);
      return 1;
    }
    interpreter_handler = old.sa_handler;
  }
  install(SIGINT, forward);
  install(SIGTERM, forward);
  install(SIGHUP, forward);
  lua_pushboolean(L, 1);
  return 1;
}

/* ignore_signals(): while the CLI records and exits after an interrupt. */
int omh_ledger_ignore_signals(lua_State *L) {
  install(SIGINT, SIG_IGN);
  install(SIGTERM, SIG_IGN);
  install(SIGHUP, SIG_IGN);
  (void)L;
  return 0;
}
