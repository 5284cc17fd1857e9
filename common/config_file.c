/*  =========================================================================
    config_file - load a ZPL configuration file with czmq's zconfig
    =========================================================================
*/
#include "config_file.h"

zconfig_t *
config_file_load (const char *path)
{
    assert (path);
    zchunk_t *chunk = zchunk_slurp (path, 0);
    if (!chunk)
        return NULL;
    zconfig_t *root = zconfig_chunk_load (chunk);
    zchunk_destroy (&chunk);
    return root;
}
