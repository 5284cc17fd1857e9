/*  =========================================================================
    config_keys - strict reading of a ZPL configuration file

    czmq's zconfig stays the parser. This module keeps, next to the parsed
    tree, the line of the file each entry came from (zconfig keeps none),
    and the set of keys the reading code asked for. A loader reads its
    settings through config_keys_get (or declares a free-form list with
    config_keys_list, or a subtree another reader checks with
    config_keys_ignore); config_keys_check then reports the first entry of
    the file that nobody asked for, or a key given twice, as one line
    "FILE:LINE: ..." with a "did you mean" when a known key is close. So
    the table a loader reads from is also the table it is validated with:
    adding a setting to the loader makes it known.

    It also records, for `--check-config`, every setting's effective value
    and where it came from (default, file, flag, ...).
    =========================================================================
*/
#ifndef STRATA_CONFIG_KEYS_H_INCLUDED
#define STRATA_CONFIG_KEYS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct _config_keys_t config_keys_t;

//  How config_keys_print formats a bound field
typedef enum {
    CONFIG_KEY_TEXT,                //  char [] buffer
    CONFIG_KEY_NUMBER,              //  unsigned integer of field_size bytes (4 or 8)
    CONFIG_KEY_BOOL,                //  bool
    CONFIG_KEY_SHOWN                //  not bound: printed with the text given at registration
} config_key_kind_t;

//  Load the ZPL file at path; what names it in errors ("configuration
//  file", "cluster file"). path NULL gives an empty configuration (every
//  setting at its default). Returns NULL with one line in error when the
//  file is missing, is a directory, cannot be read or does not parse.
config_keys_t *
    config_keys_load (const char *path, const char *what, char *error, size_t error_size);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    config_keys_destroy (config_keys_t **self_p);

//  The parsed tree (owned by self).
zconfig_t *
    config_keys_root (config_keys_t *self);

//  The file's path ("" for an empty configuration).
const char *
    config_keys_file (config_keys_t *self);

//  Declare path ("section/key") a known setting and return its value in
//  the file, or NULL when the file does not give it.
const char *
    config_keys_get (config_keys_t *self, const char *path);

//  Like config_keys_get, and bind the setting to field (of kind and
//  field_size bytes) so config_keys_print can show its effective value;
//  the origin is "file" when the file gives it, else "default".
const char *
    config_keys_bind (config_keys_t *self, const char *path, config_key_kind_t kind,
                      const void *field, size_t field_size);

//  Declare path a known section whose children are a free-form list of
//  NAME = VALUE entries (one level). Returns the section, or NULL if absent.
zconfig_t *
    config_keys_list (config_keys_t *self, const char *path);

//  Declare everything under path known (another reader checks it).
void
    config_keys_ignore (config_keys_t *self, const char *path);

//  Record that the setting at path took its value from origin ("flag",
//  "cluster file", ...), or, for a CONFIG_KEY_SHOWN setting (registered
//  here if new), that shown is its value. shown may be NULL.
void
    config_keys_set_origin (config_keys_t *self, const char *path, const char *origin,
                            const char *shown);

//  Write "FILE:LINE" for the entry at path into buffer ("FILE" when the
//  file does not give it) and return buffer.
const char *
    config_keys_where (config_keys_t *self, const char *path, char *buffer, size_t size);

//  Check the whole file: every entry is a known setting, section or list
//  item, and no section has the same key twice. Returns 0, or -1 with one
//  line in error naming FILE:LINE, the key and what was expected.
int
    config_keys_check (config_keys_t *self, char *error, size_t error_size);

//  Print every bound setting as "path = value    # origin", in the order
//  they were declared.
void
    config_keys_print (config_keys_t *self, FILE *out);

//  Parse a boolean setting: 1/true/yes or 0/false/no. Returns 0 and sets
//  *value_p, or -1 for anything else.
int
    config_keys_parse_bool (const char *text, bool *value_p);

//  Levenshtein distance between two short strings (capped at 100).
size_t
    config_keys_distance (const char *left, const char *right);

#endif
