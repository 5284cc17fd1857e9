/*  =========================================================================
    config_file - load a ZPL configuration file with czmq's zconfig

    czmq 4.2.1's zconfig_load () leaks its zfile_t when the text does not
    parse; this reads the file into a chunk and parses that instead.
    =========================================================================
*/
#ifndef STRATA_CONFIG_FILE_H_INCLUDED
#define STRATA_CONFIG_FILE_H_INCLUDED

#include <czmq.h>

//  Load and parse the ZPL file at path. Returns the tree (caller destroys
//  with zconfig_destroy) or NULL if the file cannot be read or parsed.
zconfig_t *
    config_file_load (const char *path);

#endif
