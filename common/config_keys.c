/*  =========================================================================
    config_keys - strict reading of a ZPL configuration file

    Lines: zconfig builds its tree in file order, one entry per line that is
    neither blank nor a comment, so walking the tree in pre-order pairs each
    entry with the n-th such line. The pairing is checked (the line must
    start with the entry's name); if it ever does not hold, errors name the
    file without a line rather than a wrong one.
    =========================================================================
*/
#include "config_keys.h"
#include <sys/stat.h>

typedef enum {
    S_ENTRY_KEY,                //  a setting
    S_ENTRY_LIST,               //  a section of free-form NAME = VALUE items
    S_ENTRY_IGNORE              //  a subtree another reader checks
} s_entry_type_t;

typedef struct {
    char *path;
    s_entry_type_t type;
    config_key_kind_t kind;
    const void *field;
    size_t field_size;
    char *origin;               //  "default", "file", "flag", ...
    char *shown;                //  value text for CONFIG_KEY_SHOWN
} s_entry_t;

typedef struct {
    zconfig_t *item;
    int line;
} s_line_t;

struct _config_keys_t {
    char *file;                 //  path, "" when empty
    zconfig_t *root;
    s_line_t *lines;            //  one per tree entry, pre-order
    size_t line_count;
    bool lines_valid;           //  the pairing held
    s_entry_t *entries;
    size_t entry_count;
    size_t entry_max;
};

//  Count tree entries in pre-order, pairing with significant lines
static void
s_pair_lines (config_keys_t *self, zconfig_t *parent, int *line_numbers, char **line_texts,
              size_t significant, size_t *next_p)
{
    for (zconfig_t *item = zconfig_child (parent); item; item = zconfig_next (item)) {
        size_t index = (*next_p)++;
        if (index >= significant) {
            self->lines_valid = false;
            return;
        }
        const char *text = line_texts [index];
        const char *name = zconfig_name (item);
        if (!name || strncmp (text, name, strlen (name)) != 0)
            self->lines_valid = false;
        self->lines = (s_line_t *) realloc (self->lines, (self->line_count + 1) * sizeof (s_line_t));
        assert (self->lines);
        self->lines [self->line_count].item = item;
        self->lines [self->line_count].line = line_numbers [index];
        self->line_count++;
        s_pair_lines (self, item, line_numbers, line_texts, significant, next_p);
    }
}

//  After a parse failure: find the first line whose indentation zconfig
//  refuses (tabs, not a multiple of 4, or more than one level deeper)
static int
s_bad_indent_line (const char *text)
{
    int line = 0, depth = -1;
    const char *cursor = text;
    while (*cursor) {
        line++;
        const char *end = strchr (cursor, '\n');
        size_t length = end? (size_t) (end - cursor): strlen (cursor);
        size_t spaces = 0;
        while (spaces < length && cursor [spaces] == ' ')
            spaces++;
        bool significant = spaces < length && cursor [spaces] != '#'
                        && cursor [spaces] != '\r' && cursor [spaces] != '\t';
        if (spaces < length && cursor [spaces] == '\t')
            return line;
        if (significant) {
            if (spaces % 4 || (int) (spaces / 4) > depth + 1)
                return line;
            depth = (int) (spaces / 4);
        }
        cursor += length + (end? 1: 0);
    }
    return 0;
}

config_keys_t *
config_keys_load (const char *path, const char *what, char *error, size_t error_size)
{
    assert (what && error);
    config_keys_t *self = (config_keys_t *) zmalloc (sizeof (config_keys_t));
    self->file = strdup (path? path: "");
    if (!path) {
        self->root = zconfig_new ("root", NULL);
        self->lines_valid = true;
        return self;
    }
    struct stat status;
    if (stat (path, &status)) {
        snprintf (error, error_size, "%s: no such %s", path, what);
        goto failed;
    }
    if (S_ISDIR (status.st_mode)) {
        snprintf (error, error_size, "%s: is a directory, expected a %s", path, what);
        goto failed;
    }
    zchunk_t *chunk = zchunk_slurp (path, 0);
    if (!chunk) {
        snprintf (error, error_size, "%s: cannot read the %s: %s", path, what, strerror (errno));
        goto failed;
    }
    size_t size = zchunk_size (chunk);
    char *text = (char *) malloc (size + 1);
    assert (text);
    memcpy (text, zchunk_data (chunk), size);
    text [size] = 0;
    //  zconfig logs its own parse errors; check the indentation first so
    //  the usual mistake gets one line of ours instead
    int line = s_bad_indent_line (text);
    self->root = line? NULL: zconfig_chunk_load (chunk);
    zchunk_destroy (&chunk);
    if (!self->root) {
        if (line)
            snprintf (error, error_size, "%s:%d: bad indentation: ZPL indents each level "
                      "by exactly 4 spaces (no tabs)", path, line);
        else
            snprintf (error, error_size, "%s: cannot parse the %s: expected ZPL "
                      "('name = value' lines, 4 spaces per level)", path, what);
        free (text);
        goto failed;
    }
    //  Significant lines: not blank, not a comment
    size_t line_max = 16, significant = 0;
    int *line_numbers = (int *) malloc (line_max * sizeof (int));
    char **line_texts = (char **) malloc (line_max * sizeof (char *));
    assert (line_numbers && line_texts);
    line = 0;
    char *cursor = text;
    while (*cursor) {
        line++;
        char *end = strchr (cursor, '\n');
        if (end)
            *end = 0;
        char *start = cursor;
        while (*start == ' ' || *start == '\t')
            start++;
        if (*start && *start != '#' && *start != '\r') {
            if (significant == line_max) {
                line_max *= 2;
                line_numbers = (int *) realloc (line_numbers, line_max * sizeof (int));
                line_texts = (char **) realloc (line_texts, line_max * sizeof (char *));
                assert (line_numbers && line_texts);
            }
            line_numbers [significant] = line;
            line_texts [significant] = start;
            significant++;
        }
        cursor = end? end + 1: cursor + strlen (cursor);
    }
    self->lines_valid = true;
    size_t next = 0;
    s_pair_lines (self, self->root, line_numbers, line_texts, significant, &next);
    if (next != significant)
        self->lines_valid = false;
    free (line_numbers);
    free (line_texts);
    free (text);
    return self;

failed:
    config_keys_destroy (&self);
    return NULL;
}

void
config_keys_destroy (config_keys_t **self_p)
{
    assert (self_p);
    config_keys_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->entry_count; index++) {
        free (self->entries [index].path);
        free (self->entries [index].origin);
        free (self->entries [index].shown);
    }
    free (self->entries);
    free (self->lines);
    zconfig_destroy (&self->root);
    free (self->file);
    free (self);
    *self_p = NULL;
}

zconfig_t *
config_keys_root (config_keys_t *self)
{
    assert (self);
    return self->root;
}

const char *
config_keys_file (config_keys_t *self)
{
    assert (self);
    return self->file;
}

static s_entry_t *
s_find (config_keys_t *self, const char *path)
{
    for (size_t index = 0; index < self->entry_count; index++)
        if (streq (self->entries [index].path, path))
            return &self->entries [index];
    return NULL;
}

static s_entry_t *
s_add (config_keys_t *self, const char *path, s_entry_type_t type)
{
    s_entry_t *entry = s_find (self, path);
    if (entry)
        return entry;
    if (self->entry_count == self->entry_max) {
        self->entry_max = self->entry_max? self->entry_max * 2: 32;
        self->entries = (s_entry_t *) realloc (self->entries, self->entry_max * sizeof (s_entry_t));
        assert (self->entries);
    }
    entry = &self->entries [self->entry_count++];
    memset (entry, 0, sizeof (*entry));
    entry->path = strdup (path);
    entry->type = type;
    entry->kind = CONFIG_KEY_SHOWN;
    return entry;
}

//  The file's value at path, when path is a key with a value
static const char *
s_value (config_keys_t *self, const char *path)
{
    zconfig_t *item = zconfig_locate (self->root, path);
    return item? zconfig_value (item): NULL;
}

const char *
config_keys_get (config_keys_t *self, const char *path)
{
    assert (self && path);
    const char *value = s_value (self, path);
    s_entry_t *entry = s_add (self, path, S_ENTRY_KEY);
    if (!entry->origin && value) {
        entry->origin = strdup ("file");
        entry->shown = strdup (value);
    }
    return value;
}

const char *
config_keys_bind (config_keys_t *self, const char *path, config_key_kind_t kind,
                  const void *field, size_t field_size)
{
    assert (self && path && field);
    const char *value = s_value (self, path);
    s_entry_t *entry = s_add (self, path, S_ENTRY_KEY);
    entry->kind = kind;
    entry->field = field;
    entry->field_size = field_size;
    free (entry->origin);
    entry->origin = strdup (value? "file": "default");
    return value;
}

zconfig_t *
config_keys_list (config_keys_t *self, const char *path)
{
    assert (self && path);
    s_entry_t *entry = s_add (self, path, S_ENTRY_LIST);
    entry->type = S_ENTRY_LIST;
    return zconfig_locate (self->root, path);
}

void
config_keys_ignore (config_keys_t *self, const char *path)
{
    assert (self && path);
    s_entry_t *entry = s_add (self, path, S_ENTRY_IGNORE);
    entry->type = S_ENTRY_IGNORE;
}

void
config_keys_set_origin (config_keys_t *self, const char *path, const char *origin,
                        const char *shown)
{
    assert (self && path && origin);
    s_entry_t *entry = s_find (self, path);
    if (!entry)
        entry = s_add (self, path, S_ENTRY_KEY);
    free (entry->origin);
    entry->origin = strdup (origin);
    if (shown) {
        free (entry->shown);
        entry->shown = strdup (shown);
    }
}

static int
s_line_of (config_keys_t *self, zconfig_t *item)
{
    if (!self->lines_valid)
        return 0;
    for (size_t index = 0; index < self->line_count; index++)
        if (self->lines [index].item == item)
            return self->lines [index].line;
    return 0;
}

const char *
config_keys_where (config_keys_t *self, const char *path, char *buffer, size_t size)
{
    assert (self && path && buffer);
    zconfig_t *item = zconfig_locate (self->root, path);
    int line = item? s_line_of (self, item): 0;
    if (line)
        snprintf (buffer, size, "%s:%d", self->file, line);
    else
        snprintf (buffer, size, "%s", self->file);
    return buffer;
}

size_t
config_keys_distance (const char *left, const char *right)
{
    size_t left_size = strlen (left), right_size = strlen (right);
    if (left_size > 100 || right_size > 100)
        return 100;
    size_t row [101];
    for (size_t column = 0; column <= right_size; column++)
        row [column] = column;
    for (size_t line = 1; line <= left_size; line++) {
        size_t diagonal = row [0];
        row [0] = line;
        for (size_t column = 1; column <= right_size; column++) {
            size_t above = row [column];
            size_t cost = left [line - 1] == right [column - 1]? 0: 1;
            size_t best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row [column - 1] + 1 < best)
                best = row [column - 1] + 1;
            row [column] = best;
            diagonal = above;
        }
    }
    return row [right_size];
}

//  Is the entry at path (pre-order, "a/b/c") known?
static bool
s_known (config_keys_t *self, const char *path)
{
    size_t length = strlen (path);
    for (size_t index = 0; index < self->entry_count; index++) {
        const char *known = self->entries [index].path;
        size_t known_length = strlen (known);
        if (streq (known, path))
            return true;
        //  A section holding known keys
        if (known_length > length && strncmp (known, path, length) == 0 && known [length] == '/')
            return true;
        //  Inside a list (one level) or an ignored subtree
        if (length > known_length && strncmp (path, known, known_length) == 0
        &&  path [known_length] == '/') {
            if (self->entries [index].type == S_ENTRY_IGNORE)
                return true;
            if (self->entries [index].type == S_ENTRY_LIST
            &&  !strchr (path + known_length + 1, '/'))
                return true;
        }
    }
    return false;
}

//  Describe what was expected next to the unknown entry path (parent is
//  its section, "" at the top)
static void
s_expected (config_keys_t *self, const char *parent, const char *name,
            char *text, size_t size)
{
    size_t parent_length = strlen (parent);
    const char *best = NULL;
    size_t best_length = 0, best_distance = 100;
    char names [600] = "";
    size_t used = 0;
    for (size_t index = 0; index < self->entry_count; index++) {
        const char *known = self->entries [index].path;
        if (parent_length) {
            if (strncmp (known, parent, parent_length) || known [parent_length] != '/')
                continue;
            known += parent_length + 1;
        }
        size_t known_length = strcspn (known, "/");
        //  Skip names listed already
        bool seen = false;
        for (size_t other = 0; other < index && !seen; other++) {
            const char *earlier = self->entries [other].path;
            if (parent_length) {
                if (strncmp (earlier, parent, parent_length) || earlier [parent_length] != '/')
                    continue;
                earlier += parent_length + 1;
            }
            seen = strcspn (earlier, "/") == known_length && !strncmp (earlier, known, known_length);
        }
        if (seen)
            continue;
        char candidate [129];
        snprintf (candidate, sizeof candidate, "%.*s", (int) known_length, known);
        size_t distance = config_keys_distance (name, candidate);
        if (distance < best_distance) {
            best_distance = distance;
            best = known;
            best_length = known_length;
        }
        int written = snprintf (names + used, sizeof names - used, "%s%s", used? ", ": "", candidate);
        if (written > 0 && used + (size_t) written < sizeof names)
            used += (size_t) written;
    }
    //  A close spelling, or a key with its unit or last word left off
    //  ("node-timeout" for "node-timeout-ms")
    if (best && best_distance > 2) {
        for (size_t index = 0; index < self->entry_count; index++) {
            const char *known = self->entries [index].path;
            if (parent_length) {
                if (strncmp (known, parent, parent_length) || known [parent_length] != '/')
                    continue;
                known += parent_length + 1;
            }
            size_t known_length = strcspn (known, "/");
            size_t name_length = strlen (name);
            if (name_length >= 4 && name_length < known_length && !strncmp (known, name, name_length)) {
                best = known;
                best_length = known_length;
                best_distance = 0;
                break;
            }
        }
    }
    if (best && best_distance <= 2 && best_distance < best_length && best_distance < strlen (name))
        snprintf (text, size, "did you mean '%s%s%.*s'?", parent, parent_length? "/": "",
                  (int) best_length, best);
    else
    if (used)
        snprintf (text, size, "expected one of: %s", names);
    else
        snprintf (text, size, "%s takes no entries", *parent? parent: "the file");
}

static int
s_check_level (config_keys_t *self, zconfig_t *parent, const char *parent_path,
               char *error, size_t error_size)
{
    for (zconfig_t *item = zconfig_child (parent); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        char path [1024];
        snprintf (path, sizeof path, "%s%s%s", parent_path, *parent_path? "/": "", name? name: "");
        int line = s_line_of (self, item);
        char where [1100];
        if (line)
            snprintf (where, sizeof where, "%s:%d", self->file, line);
        else
            snprintf (where, sizeof where, "%s", self->file);
        for (zconfig_t *earlier = zconfig_child (parent); earlier != item; earlier = zconfig_next (earlier))
            if (name && zconfig_name (earlier) && streq (zconfig_name (earlier), name)) {
                int first = s_line_of (self, earlier);
                if (first)
                    snprintf (error, error_size, "%s: '%s' is given twice (first at line %d); "
                              "expected each key once", where, path, first);
                else
                    snprintf (error, error_size, "%s: '%s' is given twice; expected each key once",
                              where, path);
                return -1;
            }
        if (!s_known (self, path)) {
            char expected [700];
            s_expected (self, parent_path, name? name: "", expected, sizeof expected);
            if (*parent_path)
                snprintf (error, error_size, "%s: unknown key '%s' (%s)", where, path, expected);
            else
                snprintf (error, error_size, "%s: unknown section '%s' (%s)", where, path, expected);
            return -1;
        }
        if (s_check_level (self, item, path, error, error_size))
            return -1;
    }
    return 0;
}

int
config_keys_check (config_keys_t *self, char *error, size_t error_size)
{
    assert (self && error);
    return s_check_level (self, self->root, "", error, error_size);
}

void
config_keys_print (config_keys_t *self, FILE *out)
{
    assert (self && out);
    for (size_t index = 0; index < self->entry_count; index++) {
        s_entry_t *entry = &self->entries [index];
        if (entry->type != S_ENTRY_KEY)
            continue;
        char value [1100] = "";
        if (entry->kind == CONFIG_KEY_TEXT)
            snprintf (value, sizeof value, "%s", (const char *) entry->field);
        else
        if (entry->kind == CONFIG_KEY_NUMBER) {
            unsigned long long number = 0;
            if (entry->field_size == sizeof (uint64_t))
                number = *(const uint64_t *) entry->field;
            else
            if (entry->field_size == sizeof (uint32_t))
                number = *(const uint32_t *) entry->field;
            snprintf (value, sizeof value, "%llu", number);
        }
        else
        if (entry->kind == CONFIG_KEY_BOOL)
            snprintf (value, sizeof value, "%d", *(const bool *) entry->field? 1: 0);
        else
        if (entry->shown)
            snprintf (value, sizeof value, "%s", entry->shown);
        else
            continue;           //  a key read but neither given nor bound
        fprintf (out, "%-36s = %-28s # %s\n", entry->path, value,
                 entry->origin? entry->origin: "default");
    }
}

int
config_keys_parse_bool (const char *text, bool *value_p)
{
    assert (value_p);
    if (!text)
        return -1;
    if (streq (text, "1") || streq (text, "true") || streq (text, "yes")) {
        *value_p = true;
        return 0;
    }
    if (streq (text, "0") || streq (text, "false") || streq (text, "no")) {
        *value_p = false;
        return 0;
    }
    return -1;
}
