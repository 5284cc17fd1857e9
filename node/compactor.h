/*  =========================================================================
    compactor - reclaims the space of garbage in closed value files

    A czmq actor owned by the writer (the writer starts it and is the other
    end of its pipe). It picks closed value files whose garbage is at least
    a ratio of their synced size (value_file.garbage_bytes, kept by the
    writer: docs/reading.md, "What is garbage"), copies each one's live
    records, verified (CRC32C, and the payload MD5 against the index row),
    into a new value file on the same volume, syncs it, and asks the writer
    to point the index at the copies in its next group commit. Only after
    that commit is the old file removed. It reads the index through its own
    read-only SQLite connection and never writes it: the writer owns the
    write connection, so a compaction never holds up a client request on a
    database lock (docs/storage.md, "Compaction").

    Pipe protocol (the writer's side):
      writer -> compactor   "RUN" <ratio text> <pointer>  a pass now (compact)
      compactor -> writer   "ID?"                          a new file id, please
      writer -> compactor   "ID" <id text>                 (0: none)
      compactor -> writer   "APPLY" <pointer>              an index_compaction_t
      writer -> compactor   "APPLIED" <rc text> <bytes>    after the commit
      compactor -> writer   "DONE" <pointer> <files> <bytes> <note>
                                                           a RUN's pass is over
    A background pass runs every compact/interval-ms when compact/enabled.
    =========================================================================
*/
#ifndef STRATA_COMPACTOR_H_INCLUDED
#define STRATA_COMPACTOR_H_INCLUDED

#include <czmq.h>
#include "node_config.h"
#include "node_stats.h"
#include "store_index.h"

typedef struct {
    const node_config_t *config;        //  settings (borrowed)
    node_stats_t *stats;                //  shared counters (borrowed)
} compactor_args_t;

//  The actor function, for zactor_new (compactor_actor, &args). args must
//  outlive the actor. It signals once started (zsock_signal).
void
    compactor_actor (zsock_t *pipe, void *args);

//  At start-up, before any value file is appended to: remove the value
//  files a compaction replaced (retired_file) and the output of a
//  compaction that never committed (a file the index has no row for whose
//  first record is RECORD_ORIGIN). Logs each file removed. Returns the
//  number removed, or -1 if the index could not be read.
int
    compactor_clean_up (store_index_t *index, const node_config_t *config);

#endif
