/*  =========================================================================
    index_rebuild - strata-node --rebuild-index: rebuild the index from the
    value files alone

    Runs on a stopped node. Reads every record of every value file on every
    configured volume (in file id, then offset order), replays the state
    changes their descriptors describe into a new index file
    (<data-dir>/index.db.rebuild), then swaps it in: the old index is kept as
    index.db.old. A torn or corrupt record ends its file's scan (reported),
    except that a record failing only its CRC32C is skipped (reported) when
    a well-formed record header follows it at once. Records the writer's
    rules cannot have produced (a next without its start, ...) are skipped
    and reported.
    =========================================================================
*/
#ifndef STRATA_INDEX_REBUILD_H_INCLUDED
#define STRATA_INDEX_REBUILD_H_INCLUDED

#include <stdio.h>
#include "node_config.h"

//  Rebuild the index of the node whose configuration is given, printing
//  progress and a summary to out. Returns 0 on success (the new index is in
//  place, even if records were skipped: each is reported), -1 on failure
//  (the old index is then left in place untouched).
int
    index_rebuild_run (const node_config_t *config, FILE *out);

#endif
