/*  =========================================================================
    signals - how a Strata program takes its signals

    strata-node and strata-router take SIGTERM, SIGINT and SIGHUP in their
    main thread only: signals_new blocks them before any other thread
    starts (threads inherit the mask, so no actor is interrupted), ignores
    SIGPIPE, takes czmq's own handler off and sets up zsys logging to
    stderr under the program's name. The main thread then waits for them
    through a file descriptor (signalfd) it can poll beside the pipes of
    its actors, so it wakes for a signal or for an actor that ended.
    =========================================================================
*/
#ifndef STRATA_SIGNALS_H_INCLUDED
#define STRATA_SIGNALS_H_INCLUDED

#include <czmq.h>

typedef struct _signals_t signals_t;

//  Block SIGTERM, SIGINT and SIGHUP, ignore SIGPIPE, initialise zsys with
//  logident and stderr. Call before any thread starts. NULL if the
//  descriptor cannot be made (logged).
signals_t *
    signals_new (const char *logident);

//  Close the descriptor, free, set the caller's pointer to NULL (the
//  signals stay blocked). Accepts NULL.
void
    signals_destroy (signals_t **self_p);

//  The descriptor: readable when one of the signals is pending (for
//  zmq_poll beside sockets).
int
    signals_fd (signals_t *self);

//  The pending signal's number (taken), or 0 if none is pending.
int
    signals_take (signals_t *self);

//  Wait at most timeout_ms (-1: for ever) for a signal; its number, or 0.
int
    signals_wait (signals_t *self, long timeout_ms);

#endif
