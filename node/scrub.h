/*  =========================================================================
    scrub - the scrub actor: re-reads every record of the value files in
    the background and records what is damaged

    A pass walks every finished (not forwarded) sequence record the index
    knows, in value file then offset order, at scrub/bytes-per-second:
    each record is read and checked as a retrieval checks it (header names
    the sequence, CRC32C over the record) and, beyond that, its payload MD5
    is recomputed and compared with the index. A record that fails, and
    that the index (looked at again) still places there, is recorded like
    a read records it: a row in `damaged`, stats damaged-records + 1 (once
    per record), a log line. A record whose value file is gone and that
    the index no longer places there (compaction moved it) is skipped.

    The position (last record checked) is saved in the index's
    scrub_state row every 5 seconds, so a restarted node resumes its
    pass. Passes start scrub/interval-seconds after the previous one ended
    (when scrub/enabled), or at once on a `scrub` request, which the
    writer forwards here: a request (re)starts a pass from the beginning
    and is answered, with records-checked, bytes-checked and
    damaged-found, when that pass ends.

    Stats: scrub-passes, scrub-bytes, scrub-last-pass-end, scrub-position,
    damaged-records. See docs/storage.md, "Scrub".
    =========================================================================
*/
#ifndef STRATA_SCRUB_H_INCLUDED
#define STRATA_SCRUB_H_INCLUDED

#include <czmq.h>
#include "endpoint.h"
#include "node_config.h"
#include "node_stats.h"

typedef struct {
    const node_config_t *config;        //  settings (borrowed)
    node_stats_t *stats;                //  shared counters (borrowed)
    endpoint_allow_t *allow;            //  reply allow-list (borrowed)
    const char *request_endpoint;       //  inproc endpoint to bind: the writer pushes
                                        //  scrub requests (encoded headers) to it
} scrub_args_t;

//  The actor function, for zactor_new (scrub_actor, &args). Sends "READY"
//  (or "ERROR" and a line) on its pipe once set up; ends on $TERM.
void
    scrub_actor (zsock_t *pipe, void *args);

#endif
