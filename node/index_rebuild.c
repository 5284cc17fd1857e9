/*  =========================================================================
    index_rebuild - strata-node --rebuild-index (placeholder: being written)
    =========================================================================
*/
#include "index_rebuild.h"

int
index_rebuild_run (const node_config_t *config, FILE *out)
{
    (void) config;
    fprintf (out, "--rebuild-index is not implemented yet\n");
    return -1;
}
