/*  =========================================================================
    reply_cache - PUSH sockets to requesters' reply addresses, cached

    Each thread that answers requests owns one cache. A reply goes to the
    request's `client-address` on a PUSH socket connected on first use and
    kept open (bounded: the least recently used socket is closed when the
    cache is full; sockets idle past a limit are closed by
    reply_cache_expire). Sending never blocks longer than the configured send
    timeout (default 0: a reply that cannot be queued at once is dropped);
    a requester that stops reading loses only its own replies, which are
    counted. Addresses are checked against the allow-list before any
    connection is made.
    =========================================================================
*/
#ifndef STRATA_REPLY_CACHE_H_INCLUDED
#define STRATA_REPLY_CACHE_H_INCLUDED

#include <czmq.h>
#include "reply.h"
#include "endpoint.h"
#include "node_stats.h"
#include "curve.h"
#include "reply_budget.h"

typedef struct _reply_cache_t reply_cache_t;

//  Create a cache. allow is borrowed (must outlive the cache). stats is
//  borrowed (replies-dropped is counted there; may be NULL).
reply_cache_t *
    reply_cache_new (endpoint_allow_t *allow, node_stats_t *stats, int max_sockets,
                     int idle_seconds, int send_timeout_ms, int hwm);

//  Make every reply socket opened from now on a CURVE server with the
//  cluster certificate (the requester's bound PULL is a CURVE client).
//  curve is borrowed (must outlive the cache); NULL = plaintext.
void
    reply_cache_set_curve (reply_cache_t *self, curve_t *curve);

//  Charge every reply's bytes to budget (borrowed; shared by every cache
//  of the process; NULL = no budget) until ZeroMQ has written them out.
//  A reply that does not fit, even after closing (without linger) the
//  sockets of peers that have taken nothing for a while, is dropped,
//  counted and logged (rate-limited) naming who.
void
    reply_cache_set_budget (reply_cache_t *self, reply_budget_t *budget, const char *who);

//  Before reading a reply's payload: charge bytes (payload plus header
//  room) for the next reply_cache_send to address, which uses the charge
//  and gives back what it does not need. Returns 0 when charged, -1 when
//  the reply would be dropped: the peer at address has taken none of its
//  queued replies for a while, or the budget has no room (nothing is
//  charged or counted then).
int
    reply_cache_reserve (reply_cache_t *self, const char *address, uint64_t bytes);

//  Give back a charge made by reply_cache_reserve that will not be sent.
void
    reply_cache_unreserve (reply_cache_t *self);

//  Close every socket (with a linger so queued replies still go out) and
//  free; set the caller's pointer to NULL. Accepts NULL.
void
    reply_cache_destroy (reply_cache_t **self_p);

//  Send a reply: frame 0 the encoded header, then data frames taken from
//  *data_p if not NULL (the zmsg is consumed and set to NULL). The address
//  is reply->client_address. Frames are handed to ZeroMQ without copies,
//  their bytes charged to the budget until ZeroMQ frees them. Returns 0 if
//  queued, -1 if dropped (address not allowed, cannot connect, requester
//  not reading, or no budget room); a drop is counted as replies-dropped.
int
    reply_cache_send (reply_cache_t *self, const reply_t *reply, zmsg_t **data_p);

//  True if the address would be accepted (allow-list).
bool
    reply_cache_allowed (reply_cache_t *self, const char *address);

//  Close sockets idle longer than the configured limit.
void
    reply_cache_expire (reply_cache_t *self);

//  Number of open sockets.
size_t
    reply_cache_size (reply_cache_t *self);

#endif
