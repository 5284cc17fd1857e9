/*  =========================================================================
    actor_start - the start-up handshake of a czmq actor

    Every long-lived actor of the node and the router starts the same way:
    it builds its state, signals its pipe (so zactor_new returns), then
    sends "READY" (possibly followed by frames of its own) or "ERROR" and
    one line saying why. After ERROR it frees what it built and waits for
    $TERM, so zactor_destroy returns. The starter waits for that line and
    either keeps the actor or destroys it and reports the line.
    =========================================================================
*/
#ifndef STRATA_ACTOR_START_H_INCLUDED
#define STRATA_ACTOR_START_H_INCLUDED

#include <czmq.h>

//  Starter: start actor_fn (args as for zactor_new) and wait for its
//  start-up line. Returns the running actor; with ready_p, *ready_p gets
//  the frames after "READY" (caller destroys; empty when none). Returns
//  NULL on failure, with the actor's line in error (or "cannot start the
//  <what>" when it gave none).
zactor_t *
    actor_start (zactor_fn *actor_fn, void *args, const char *what, zmsg_t **ready_p,
                 char *error, size_t error_size);

//  Actor: report how start-up went. error "" (or NULL): signals the pipe,
//  sends "READY" and returns true. Otherwise signals the pipe, sends
//  "ERROR" + error and returns false: the actor then frees its state,
//  calls actor_start_wait_term and returns.
bool
    actor_start_report (zsock_t *pipe, const char *error);

//  Actor: report a successful start with frames of its own after "READY"
//  (what the starter gets in *ready_p): signals the pipe and sends them.
//  Takes and destroys *frames_p; frames_p NULL (or *frames_p NULL): none,
//  as actor_start_report with no error.
void
    actor_start_ready (zsock_t *pipe, zmsg_t **frames_p);

//  Actor, after a failed start: wait for $TERM (or the pipe's end).
void
    actor_start_wait_term (zsock_t *pipe);

#endif
