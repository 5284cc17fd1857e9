/*  =========================================================================
    index_check - strata-node --check (placeholder: being written)
    =========================================================================
*/
#include "index_check.h"

int
index_check_run (const node_config_t *config, FILE *out)
{
    (void) config;
    fprintf (out, "--check is not implemented yet\n");
    return -1;
}
