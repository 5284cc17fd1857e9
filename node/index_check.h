/*  =========================================================================
    index_check - strata-node --check: verify the index against the value
    files

    Runs on a stopped node. Checks every sequence the index references:
    the record exists (value file present, offset and size within it), its
    header matches the index row (type, identity, sequence number, sizes,
    MD5), its CRC32C holds, and the payload's MD5 equals the recorded one;
    and the index's own consistency (finished segments have their
    sequences, numbered without gaps; value files referenced exist). Prints
    a summary and one line per problem.
    =========================================================================
*/
#ifndef STRATA_INDEX_CHECK_H_INCLUDED
#define STRATA_INDEX_CHECK_H_INCLUDED

#include <stdio.h>
#include "node_config.h"

//  Check the node whose configuration is given, printing to out. Returns
//  the number of problems found (0 = clean), or -1 if the check could not
//  run (no index, unreadable data directory), with one line on out.
int
    index_check_run (const node_config_t *config, FILE *out);

#endif
