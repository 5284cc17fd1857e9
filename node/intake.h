/*  =========================================================================
    intake - receive one request from a node endpoint and judge it

    Shared by the dispatcher (writer endpoint) and the reader (reader
    endpoint), so both apply the same rules in the same order:

    1. frames are received one by one; once `max-frames` or
       `max-message-bytes` is passed nothing more is kept (when payload is
       not wanted — the reader — no data frame is kept at all);
    2. the header is decoded and validated (request_decode);
    3. a request whose client-address is not allowed is dropped (counted as
       requests-dropped, logged rate-limited): no connection is ever made;
    4. a request that failed to decode and has no reply address is dropped
       and counted the same way;
    5. otherwise a work item is returned, with verdict success or the first
       failure (decode error, frame/byte limit, and for archive requests
       with payload kept: size-mismatch, then md5-mismatch). A failed
       request keeps no payload.
    =========================================================================
*/
#ifndef STRATA_INTAKE_H_INCLUDED
#define STRATA_INTAKE_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"
#include "work.h"

typedef struct _intake_t intake_t;

//  Create an intake for a thread. who names it in log lines ("dispatcher",
//  "reader"). keep_payload: keep data frames and verify archive payloads.
//  config, stats and allow are borrowed.
intake_t *
    intake_new (const char *who, const node_config_t *config, node_stats_t *stats,
                endpoint_allow_t *allow, bool keep_payload);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    intake_destroy (intake_t **self_p);

//  Receive one request from socket (which must be readable) and judge it.
//  Returns the work item (caller owns it), or NULL when the request was
//  dropped (already counted and logged).
work_t *
    intake_receive (intake_t *self, zsock_t *socket);

//  The same, for a request that has already arrived: without waiting and
//  without asking the socket first. *taken_p says whether one had (the
//  result may still be NULL: taken and dropped).
work_t *
    intake_receive_waiting (intake_t *self, zsock_t *socket, bool *taken_p);

#endif
