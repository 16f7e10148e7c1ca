/* SIGTERM, SIGHUP and every SIGINT made to act like the first Ctrl-C: the
 * standalone interpreter (lua.c, luajit.c) turns its first SIGINT into an
 * "interrupted!" error at the next Lua instruction, then restores the
 * default action. Its handler is taken once and called for the first of
 * these signals; the process is then stopping, and later ones are dropped:
 * raised again, an interrupt would cut the unwinding that lets the creates
 * in flight answer and records their jobs (omnihuman.run settling them,
 * the CLI writing them down), so a paid job would lose its id. Only a
 * function pointer and a flag are kept: no Lua state. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../compat.h"
#include "signals.h"

static void (*interpreter_handler)(int);
static volatile sig_atomic_t stopping; /* a stop signal was forwarded */

static void install(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void forward(int sig) {
  (void)sig;
  if (!stopping) {
    stopping = 1;
    if (interpreter_handler) interpreter_handler(SIGINT);
  }
  install(SIGINT, forward); /* the interpreter's handler put back the default: a kill */
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
  stopping = 0;
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

/* kill_self(): SIGKILL to this process, at once (the crash simulation's
 * crash points around a ledger commit). Does not return. */
int omh_ledger_kill_self(lua_State *L) {
  (void)L;
  kill(getpid(), SIGKILL);
  for (;;) pause(); /* the signal is on its way */
  return 0;
}
