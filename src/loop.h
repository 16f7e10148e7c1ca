/* The loop: one curl multi handle, an epoll set of its sockets, a timer
 * heap, a pool of idle easy handles, admission lanes, and the notices of
 * finished work. It drives tasks (task.h) and knows nothing else of them.
 * Driving it never blocks longer than the earliest deadline and never spins. */
#ifndef OMH_LOOP_H
#define OMH_LOOP_H

#include <curl/curl.h>

#include "compat.h"
#include "task.h"
#include "timers.h"

/* Seconds of socket work and admissions one drive does by default before
 * it leaves the rest to the next (loop:set_turn_budget): a host's frame or
 * timer is never held much longer than this, whatever is in flight. */
#define OMH_TURN_BUDGET 0.002
/* Body bytes the uploads together read (encode and hand to curl) in one
 * drive by default (loop:upload_budget); the rest waits for the next. */
#define OMH_UPLOAD_BUDGET (512 * 1024)

/* Its fields are the loop's own (loop_private.h): other files go through
 * the functions below. */
typedef struct omh_loop omh_loop;

#define OMH_LOOP_MT "omnihuman.loop"

omh_loop *omh_checkloop(lua_State *L, int idx);

/* Driving. Non-blocking when block <= 0; otherwise waits at most `block`
 * seconds (bounded by the earliest deadline) for sockets or timers. The
 * caller keeps the loop's userdata on the stack (callbacks may drop every
 * other reference to it). */
void omh_loop_drive(omh_loop *lp, lua_State *L, double block);
/* Seconds until the loop next wants attention; < 0 when nothing is armed;
 * 0 when finish notices wait for take_done or a queued request can start. */
double omh_loop_timeout(omh_loop *lp);
/* The same, leaving finish notices out: when the loop's own work next
 * needs a drive (what a task's owner reports as its timeout). */
double omh_loop_next_deadline(omh_loop *lp);
/* Raises inside a callback of lp's drive: nothing can finish until it returns. */
void omh_loop_check_may_block(omh_loop *lp, lua_State *L);
/* Drives lp, blocking without spinning, until t has finished (returns 1)
 * or lp closed (0). Raises inside a callback of the loop. */
int omh_loop_run_until(omh_loop *lp, lua_State *L, omh_task *t);

/* Tasks. */
void omh_loop_bind(omh_loop *lp, omh_task *t, const omh_task_ops *ops);
/* Stops t's transfer, queue place and timer; t stays bound. */
void omh_loop_stop(omh_task *t);
/* No longer counted as active work (it finished). */
void omh_loop_retire(omh_task *t);
/* Stops t and lets go of it for good. */
void omh_loop_unbind(omh_task *t);
/* Starts t's request now (launch) or queues it in lane ln when full. A
 * `fresh` request opens a connection of its own: with a turn budget, at
 * most a few start between two drives, the rest wait in their lane. */
void omh_loop_submit(omh_task *t, omh_lane *ln, int fresh, lua_State *L);
/* From launch: hands the set-up handle to curl; the connections it uses
 * are `owner`'s (a client's config serial, 0: none) until another's
 * transfer uses them. Returns CURLM_OK, or an error with nothing changed
 * (the handle is the caller's again). */
CURLMcode omh_loop_start_transfer(omh_task *t, CURL *e, unsigned long profile, unsigned long owner);
/* A request awaited at once, with nothing else in the loop (no other
 * task, transfer, timer or queued request): t's next launch may perform
 * it on the spot (omh_loop_perform) instead of through the multi handle,
 * on the same pool of connections. NULL: none. */
void omh_loop_perform_next(omh_loop *lp, omh_task *t);
/* 1 when t's launch should call omh_loop_perform (and clears the mark). */
int omh_loop_may_perform(omh_loop *lp, omh_task *t);
/* The loop's one handle for performed requests (never in the multi
 * handle: curl keeps a private multi handle in it), as omh_loop_easy. */
CURL *omh_loop_perform_easy(omh_loop *lp, unsigned long profile, int *same);
/* Performs t's request on e (set up for `profile`, `owner`'s) to its end,
 * then does what a drive does with a finished transfer (collect, keep
 * the handle for the next, transfer_done with the loop marked as driving). */
void omh_loop_perform(omh_task *t, CURL *e, unsigned long profile, unsigned long owner, lua_State *L);
/* Ends the idle connections whose last transfer was `owner`'s (the server
 * sees them close now; curl lets go of each descriptor when it next looks
 * at its cache of connections). Connections in use are left alone. Returns
 * how many were ended. */
int omh_loop_end_idle(omh_loop *lp, unsigned long owner);
void omh_loop_arm(omh_task *t, double when);
/* Progress to report after the current drive (called from curl's callbacks). */
void omh_loop_progress(omh_task *t);

/* The easy-handle pool: a handle already set up for `profile` when one is
 * idle (*same = 1), else a reset or new one. */
CURL *omh_loop_easy(omh_loop *lp, unsigned long profile, int *same);
/* Back to the pool, remembered as set up for `profile` (0: for nothing). */
void omh_loop_release_easy(omh_loop *lp, CURL *e, unsigned long profile);
double omh_loop_jitter(omh_loop *lp); /* uniform in [0,1) */
void omh_loop_set_max_host(omh_loop *lp, long n);
/* The budget an upload of this loop reads its body within (transfer.h). */
struct omh_upload_budget *omh_loop_upload_budget(omh_loop *lp);
/* Sets the bytes per drive (0: no bound) and starts the counts afresh. */
void omh_loop_set_upload_budget(omh_loop *lp, size_t bytes);
/* A new client's number, unique within the loop. */
unsigned long omh_loop_new_serial(omh_loop *lp);

/* Notices. Records that the op whose userdata is on top of the stack
 * finished (pops it): adds it to the done set, makes outer_fd readable. */
void omh_loop_post_done(omh_loop *lp, lua_State *L);
/* pollfd() is being handed out: from now on finish notices make it readable. */
void omh_loop_watch(omh_loop *lp);
/* 1 once the loop was closed (its tasks ended, nothing more runs). */
int omh_loop_is_closed(const omh_loop *lp);
/* The descriptor a host watches (pollfd), marked as watched; -1 once closed. */
int omh_loop_watch_fd(omh_loop *lp);
/* The first task bound to the loop (then task->live_next), for walks over
 * them; NULL when there are none. */
omh_task *omh_loop_tasks(const omh_loop *lp);
/* 1 while finish notices wait for take_done. */
int omh_loop_has_done(const omh_loop *lp);
/* Called at the end of a Lua-facing C function that may have finished
 * operations outside a drive: runs the host's wakeup function, if any. */
void omh_loop_safe_point(omh_loop *lp, lua_State *L);

/* For loop_lua.c: creation, closing. */
int omh_loop_init(omh_loop *lp);
/* Ends every task (waiters hear "cancelled") and marks the loop closed. */
void omh_loop_end(omh_loop *lp, lua_State *L);
/* Frees curl and the descriptors, now or when the current drive ends. */
void omh_loop_release(omh_loop *lp);
void omh_loop_call_wakeup(omh_loop *lp, lua_State *L);

/* curl's sockets in epfd (loop_sockets.c): the multi handle's socket
 * callback; every easy handle of the loop opens and closes its
 * connections through the loop; whether a ready descriptor is one curl
 * waits on (an idle one is dropped from the set instead). */
void omh_loop_sockets_init(omh_loop *lp);
void omh_loop_sockets_adopt(omh_loop *lp, CURL *e);
int omh_loop_socket_wanted(omh_loop *lp, int fd);
void omh_loop_sockets_free(omh_loop *lp);

/* Registers the loop type; pushes core.new_loop. */
int omh_loop_open(lua_State *L);

#endif
