/*  =========================================================================
    value_store - the set of value files across one or more volumes

    The writer's only way to put records on disk. The store owns one current
    value file open for appending; value_store_append picks where each record
    goes, value_store_sync makes everything appended since the last sync
    durable. Neither calls back: append says in its result when it opened a
    new file (the owner records it in the index before acknowledging
    anything in it), and sync lists the files it made durable and how far.

    Choosing a file for a record of R bytes (header + descriptor + payload):

    - keep the current file if current size + R <= max_file_size (or the
      current file is empty: a record larger than max_file_size gets a file
      of its own) and its volume still has R + reserve_bytes free;
    - otherwise open a new file on the volume with the most free space among
      those with R + reserve_bytes free;
    - if no volume has room, fail with -ENOSPC and change nothing.

    A new file gets the next file id (ids increase across all volumes and
    restarts: at start the store scans every <volume>/values/ for
    <16 hex digits>.val and continues after the highest, or at first_file_id
    if that is higher), is created with O_EXCL, and its values/ directory is
    fsynced once so the file's existence is durable.

    A file that was replaced as current (rolled over, or retired after a
    failed append) stays open on the "dirty" list until the next sync, then
    is closed. A file whose append or sync failed is retired: never written
    again, but never deleted either (the index may reference earlier synced
    records in it). Except a file still empty after its failed append was
    undone: it holds nothing to protect, and retiring it would leave one
    more empty file behind for every request while a volume refuses writes
    (ENOSPC, EIO); it stays current and the next append tries it again.
    =========================================================================
*/
#include <czmq.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include "value_store.h"

#define S_PROBE_REUSE_US 2000         //  reuse a free-space probe this long
#define S_VALUES_DIR        "values"
#define S_ID_DIGITS         16
#define S_SUFFIX            ".val"
#define S_CREATE_ATTEMPTS   16      //  ids skipped when a file already exists

struct _value_store_t {
    char **volumes;                     //  volume directories (owned copies)
    size_t volume_count;                //  entries in volumes
    uint64_t max_file_size;             //  roll over past this many bytes
    uint64_t reserve_bytes;             //  free space kept on every volume
    uint64_t next_file_id;              //  id of the next file created
    uint64_t file_count;                //  files found at start + created
    value_file_t *current;              //  file being appended to, or NULL
    uint64_t current_id;                //  its file id
    size_t current_volume;              //  its volume index
    bool current_dirty;                 //  current is on the dirty list
    value_file_t **dirty;               //  files written since the last sync;
                                        //  all but current are owned here
    uint64_t *dirty_ids;                //  file ids of the dirty files
    size_t dirty_count;                 //  entries in dirty
    size_t dirty_max;                   //  allocated entries in dirty
    uint64_t unsynced_bytes;            //  bytes appended since the last sync
    uint64_t writeback_bytes;           //  value_file_set_writeback of new files
    value_store_synced_t *synced;       //  what the last sync synced (dirty_max entries)
    size_t synced_count;                //  entries in synced
    value_store_free_space_fn *free_space_fn;   //  free-space probe
    size_t probe_volume;                //  volume of the last probe
    int64_t probe_us;                   //  when (monotonic), 0 = never
    uint64_t probe_free;                //  free bytes it found
    uint64_t probe_used;                //  bytes appended there since
    void *free_space_arg;               //  its argument
};


//  --------------------------------------------------------------------------
//  Saturating addition

static uint64_t
s_add (uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b? UINT64_MAX: a + b;
}


//  --------------------------------------------------------------------------
//  "<volume>/values" in a fresh string, or NULL

static char *
s_values_dir (const char *volume)
{
    size_t size = strlen (volume) + sizeof ("/" S_VALUES_DIR);
    char *path = (char *) malloc (size);
    if (path)
        snprintf (path, size, "%s/" S_VALUES_DIR, volume);
    return path;
}


//  --------------------------------------------------------------------------
//  fsync a directory. Returns 0 or -errno. EINVAL (a file system that
//  cannot sync directories) counts as success.

static int
s_fsync_dir (const char *path)
{
    int fd;
    do
        fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    int rc;
    do
        rc = fsync (fd);
    while (rc != 0 && errno == EINTR);
    int saved = rc == 0? 0: errno;
    close (fd);
    return saved == 0 || saved == EINVAL? 0: -saved;
}


//  --------------------------------------------------------------------------
//  Create one directory if missing (and make its entry durable); a
//  non-directory in the way is -ENOTDIR. Returns 0 or -errno.

static int
s_mkdir_one (char *path)
{
    if (mkdir (path, 0755) == 0) {
        //  Sync the parent so the new directory survives a crash
        char *slash = strrchr (path, '/');
        if (!slash)
            return s_fsync_dir (".");
        if (slash == path)
            return s_fsync_dir ("/");
        *slash = 0;
        int rc = s_fsync_dir (path);
        *slash = '/';
        return rc;
    }
    if (errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat (path, &st) != 0)
        return -errno;
    return S_ISDIR (st.st_mode)? 0: -ENOTDIR;
}


//  --------------------------------------------------------------------------
//  mkdir -p. Returns 0 or -errno.

static int
s_mkdir_p (const char *path)
{
    char *copy = strdup (path);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    for (char *p = copy + 1; *p && rc == 0; p++)
        if (*p == '/' && p [-1] != '/') {
            *p = 0;
            rc = s_mkdir_one (copy);
            *p = '/';
        }
    if (rc == 0)
        rc = s_mkdir_one (copy);
    free (copy);
    return rc;
}


//  --------------------------------------------------------------------------
//  If name is a value file name, set *id_p and return true

static bool
s_parse_name (const char *name, uint64_t *id_p)
{
    if (strlen (name) != S_ID_DIGITS + strlen (S_SUFFIX)
    ||  strcmp (name + S_ID_DIGITS, S_SUFFIX) != 0)
        return false;
    uint64_t id = 0;
    for (int i = 0; i < S_ID_DIGITS; i++) {
        char c = name [i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = (unsigned) (c - '0');
        else
        if (c >= 'a' && c <= 'f')
            digit = (unsigned) (c - 'a' + 10);
        else
        if (c >= 'A' && c <= 'F')
            digit = (unsigned) (c - 'A' + 10);
        else
            return false;
        id = (id << 4) | digit;
    }
    *id_p = id;
    return true;
}


//  --------------------------------------------------------------------------
//  Count the value files in dir and raise *highest_p / *found_p. Returns 0
//  or -errno.

static int
s_scan (const char *dir, uint64_t *count_p, uint64_t *highest_p, bool *found_p)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return -errno;
    struct dirent *entry;
    errno = 0;
    while ((entry = readdir (handle))) {
        uint64_t id;
        if (s_parse_name (entry->d_name, &id)) {
            (*count_p)++;
            if (!*found_p || id > *highest_p)
                *highest_p = id;
            *found_p = true;
        }
        errno = 0;
    }
    int rc = errno? -errno: 0;
    closedir (handle);
    return rc;
}


//  --------------------------------------------------------------------------
//  Default free-space probe: statvfs

static int
s_statvfs_free (void *arg, const char *volume, uint64_t *free_p)
{
    (void) arg;
    struct statvfs st;
    if (statvfs (volume, &st) != 0)
        return -errno;
    uint64_t blocks = st.f_bavail;
    uint64_t block_size = st.f_frsize;
    *free_p = block_size && blocks > UINT64_MAX / block_size?
        UINT64_MAX: blocks * block_size;
    return 0;
}


//  --------------------------------------------------------------------------
//  Free bytes on volume index; 0 if unknown

static uint64_t
s_free_space (value_store_t *self, size_t index)
{
    //  A probe is a syscall; under load appends come every few microseconds.
    //  Reuse the last probe of the current volume for S_PROBE_REUSE_US,
    //  minus what was appended since, so the answer is never more generous
    //  than the disk was.
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    int64_t now_us = (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
    if (index == self->probe_volume && self->probe_us
    &&  now_us - self->probe_us < S_PROBE_REUSE_US)
        return self->probe_free > self->probe_used? self->probe_free - self->probe_used: 0;

    uint64_t free_bytes = 0;
    if (self->free_space_fn (self->free_space_arg, self->volumes [index], &free_bytes) != 0)
        free_bytes = 0;
    self->probe_volume = index;
    self->probe_us = now_us;
    self->probe_free = free_bytes;
    self->probe_used = 0;
    return free_bytes;
}


//  --------------------------------------------------------------------------
//  Create a store over volume_count volume directories

value_store_t *
value_store_new (const char **volumes, size_t volume_count,
                 uint64_t max_file_size, uint64_t reserve_bytes,
                 uint64_t first_file_id)
{
    assert (volumes);
    assert (volume_count > 0);

    value_store_t *self = (value_store_t *) calloc (1, sizeof (value_store_t));
    if (!self)
        return NULL;
    self->max_file_size = max_file_size;
    self->reserve_bytes = reserve_bytes;
    self->free_space_fn = s_statvfs_free;
    self->volumes = (char **) calloc (volume_count, sizeof (char *));
    dev_t *devices = (dev_t *) calloc (volume_count, sizeof (dev_t));
    ino_t *inodes = (ino_t *) calloc (volume_count, sizeof (ino_t));
    if (!self->volumes || !devices || !inodes) {
        zsys_error ("value_store: out of memory");
        goto fail;
    }
    self->volume_count = volume_count;

    uint64_t highest = 0;       //  highest file id found
    bool found = false;         //  any file found
    for (size_t index = 0; index < volume_count; index++) {
        assert (volumes [index]);
        self->volumes [index] = strdup (volumes [index]);
        char *dir = s_values_dir (volumes [index]);
        if (!self->volumes [index] || !dir) {
            free (dir);
            zsys_error ("value_store: out of memory");
            goto fail;
        }
        int rc = s_mkdir_p (dir);
        struct stat st;
        if (rc == 0 && stat (dir, &st) != 0)
            rc = -errno;
        if (rc == 0)
            rc = s_scan (dir, &self->file_count, &highest, &found);
        if (rc != 0) {
            zsys_error ("value_store: cannot use volume %s: %s",
                        volumes [index], store_strerror (rc));
            free (dir);
            goto fail;
        }
        for (size_t other = 0; other < index; other++)
            if (devices [other] == st.st_dev && inodes [other] == st.st_ino) {
                zsys_error ("value_store: volume %s is listed twice (same as %s)",
                            volumes [index], volumes [other]);
                free (dir);
                goto fail;
            }
        devices [index] = st.st_dev;
        inodes [index] = st.st_ino;
        free (dir);
    }
    if (found && highest == UINT64_MAX) {
        zsys_error ("value_store: value file ids are exhausted");
        goto fail;
    }
    self->next_file_id = found && highest + 1 > first_file_id? highest + 1: first_file_id;
    free (devices);
    free (inodes);
    return self;

fail:
    free (devices);
    free (inodes);
    value_store_destroy (&self);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Sync (best effort), close every file, free

void
value_store_destroy (value_store_t **self_p)
{
    assert (self_p);
    value_store_t *self = *self_p;
    if (self) {
        int rc = value_store_sync (self, NULL, NULL);
        if (rc != 0)
            zsys_error ("value_store: sync at close failed: %s", store_strerror (rc));
        value_file_destroy (&self->current);
        free (self->dirty);
        free (self->dirty_ids);
        free (self->synced);
        if (self->volumes)
            for (size_t index = 0; index < self->volume_count; index++)
                free (self->volumes [index]);
        free (self->volumes);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Early writeback of the files appended to

void
value_store_set_writeback (value_store_t *self, uint64_t bytes)
{
    assert (self);
    self->writeback_bytes = bytes;
    if (self->current)
        value_file_set_writeback (self->current, bytes);
}


//  --------------------------------------------------------------------------
//  Replace the free-space probe (tests)

void
value_store_set_free_space_fn (value_store_t *self, value_store_free_space_fn *fn, void *arg)
{
    assert (self);
    self->free_space_fn = fn? fn: s_statvfs_free;
    self->probe_us = 0;
    self->free_space_arg = fn? arg: NULL;
}


//  --------------------------------------------------------------------------
//  Stop appending to the current file. If it has unsynced records the
//  dirty list keeps it open until the next sync; else it is closed now.

static void
s_retire_current (value_store_t *self)
{
    if (self->current && !self->current_dirty)
        value_file_destroy (&self->current);
    self->current = NULL;
    self->current_dirty = false;
}


//  --------------------------------------------------------------------------
//  Make room for one more entry on the dirty list. Returns 0 or -ENOMEM.

static int
s_reserve_dirty (value_store_t *self)
{
    if (self->dirty_count < self->dirty_max)
        return 0;
    size_t max = self->dirty_max? self->dirty_max * 2: 4;
    value_file_t **dirty = (value_file_t **) realloc (self->dirty, max * sizeof (value_file_t *));
    if (!dirty)
        return -ENOMEM;
    self->dirty = dirty;
    uint64_t *dirty_ids = (uint64_t *) realloc (self->dirty_ids, max * sizeof (uint64_t));
    if (!dirty_ids)
        return -ENOMEM;
    self->dirty_ids = dirty_ids;
    value_store_synced_t *synced = (value_store_synced_t *) realloc (self->synced,
                                                                    max * sizeof (value_store_synced_t));
    if (!synced)
        return -ENOMEM;
    self->synced = synced;
    self->dirty_max = max;
    return 0;
}


//  --------------------------------------------------------------------------
//  Create the next value file on volume index and make it current; say so
//  in *appended. Returns 0 or -errno (the current file is then unchanged).

static int
s_new_file (value_store_t *self, size_t index, value_store_append_t *appended)
{
    const char *volume = self->volumes [index];
    size_t path_size = strlen (volume) + sizeof ("/" S_VALUES_DIR "/") + S_ID_DIGITS + strlen (S_SUFFIX);
    char *path = (char *) malloc (path_size);
    if (!path)
        return -ENOMEM;

    value_file_t *file = NULL;
    uint64_t file_id = 0;
    int rc = 0;
    for (int attempt = 0; attempt < S_CREATE_ATTEMPTS && !file; attempt++) {
        if (self->next_file_id == UINT64_MAX) {
            rc = -EOVERFLOW;
            break;
        }
        file_id = self->next_file_id;
        int path_rc = value_store_path (volume, file_id, path, path_size);
        assert (path_rc == 0);
        file = value_file_create (path);
        if (file) {
            self->next_file_id++;
            self->file_count++;
        }
        else {
            rc = -errno;
            if (errno != EEXIST)
                break;
            //  Someone else's file has this id: never touch it, skip the id
            self->next_file_id++;
        }
    }
    if (!file) {
        zsys_error ("value_store: cannot create value file on %s: %s",
                    volume, store_strerror (rc));
        free (path);
        return rc;
    }

    //  The file's directory entry must be durable before records are
    char *dir = s_values_dir (volume);
    rc = dir? s_fsync_dir (dir): -ENOMEM;
    free (dir);
    if (rc != 0) {
        zsys_error ("value_store: cannot sync %s/" S_VALUES_DIR ": %s",
                    volume, store_strerror (rc));
        value_file_destroy (&file);
        free (path);
        return rc;
    }
    appended->opened = true;
    appended->opened_id = file_id;
    appended->previous_id = self->current? self->current_id: 0;
    appended->volume = volume;
    free (path);

    s_retire_current (self);
    self->current = file;
    value_file_set_writeback (file, self->writeback_bytes);
    self->current_id = file_id;
    self->current_volume = index;
    self->current_dirty = false;
    return 0;
}


//  --------------------------------------------------------------------------
//  Append one record, rolling over or choosing a volume as needed

int
value_store_append (value_store_t *self, const value_record_t *record,
                    const void *descriptor, const struct iovec *payload,
                    int payload_count, value_store_append_t *appended)
{
    assert (self);
    assert (record);
    assert (appended);
    *appended = (value_store_append_t) { .file_id = 0 };

    uint64_t record_size = value_file_record_size (record->descriptor_size,
                                                   record->payload_size);
    uint64_t needed = s_add (record_size, self->reserve_bytes);

    //  Keep the current file if the record fits in it and on its volume
    bool roll = true;
    if (self->current) {
        uint64_t size = value_file_size (self->current);
        bool fits = size == 0
                 || (record_size <= self->max_file_size
                     && size <= self->max_file_size - record_size);
        if (fits && s_free_space (self, self->current_volume) >= needed)
            roll = false;
    }
    size_t target = 0;          //  volume of the new file, if roll
    if (roll) {
        bool have = false;      //  some volume has room
        uint64_t best = 0;      //  free bytes on volume target
        for (size_t index = 0; index < self->volume_count; index++) {
            uint64_t free_bytes = s_free_space (self, index);
            if (free_bytes >= needed && (!have || free_bytes > best)) {
                have = true;
                best = free_bytes;
                target = index;
            }
        }
        if (!have)
            return -ENOSPC;
    }
    int rc = s_reserve_dirty (self);
    if (rc == 0 && roll)
        rc = s_new_file (self, target, appended);
    if (rc != 0)
        return rc;

    uint64_t offset = 0;
    rc = value_file_append (self->current, record, descriptor, payload,
                            payload_count, &offset);
    if (rc == -EINVAL)
        return rc;              //  our caller's mistake; nothing was written
    if (rc != 0) {
        zsys_error ("value_store: append to value file %016" PRIx64 " failed: %s",
                    self->current_id, store_strerror (rc));
        if (value_file_size (self->current) > 0 || value_file_broken (self->current))
            s_retire_current (self);
        return rc;
    }
    if (!self->current_dirty) {
        self->dirty_ids [self->dirty_count] = self->current_id;
        self->dirty [self->dirty_count++] = self->current;
        self->current_dirty = true;
    }
    self->unsynced_bytes = s_add (self->unsynced_bytes, record_size);
    if (self->current_volume == self->probe_volume)
        self->probe_used = s_add (self->probe_used, record_size);
    appended->file_id = self->current_id;
    appended->offset = offset;
    return 0;
}


//  --------------------------------------------------------------------------
//  fdatasync every file appended to since the last sync

int
value_store_sync (value_store_t *self, const value_store_synced_t **synced_p,
                  size_t *synced_count_p)
{
    assert (self);
    int first = 0;              //  first failure
    self->synced_count = 0;
    for (size_t index = 0; index < self->dirty_count; index++) {
        value_file_t *file = self->dirty [index];
        int rc = value_file_sync (file);
        if (rc != 0) {
            zsys_error ("value_store: fdatasync failed: %s", store_strerror (rc));
            if (first == 0)
                first = rc;
        }
        else {
            self->synced [self->synced_count++] = (value_store_synced_t) {
                .file_id = self->dirty_ids [index], .synced_size = value_file_size (file),
                .current = file == self->current,
            };
        }
        if (file == self->current) {
            self->current_dirty = false;
            if (rc != 0)
                s_retire_current (self);
        }
        else
            value_file_destroy (&file);
    }
    self->dirty_count = 0;
    self->unsynced_bytes = 0;
    if (synced_p)
        *synced_p = self->synced;
    if (synced_count_p)
        *synced_count_p = self->synced_count;
    return first;
}


//  --------------------------------------------------------------------------
//  Bytes appended since the last sync

uint64_t
value_store_unsynced_bytes (value_store_t *self)
{
    assert (self);
    return self->unsynced_bytes;
}


//  --------------------------------------------------------------------------
//  Number of value files appended to since the last sync

size_t
value_store_unsynced_files (value_store_t *self)
{
    assert (self);
    return self->dirty_count;
}


//  --------------------------------------------------------------------------
//  Number of value files the store has created or found

uint64_t
value_store_file_count (value_store_t *self)
{
    assert (self);
    return self->file_count;
}


//  --------------------------------------------------------------------------
//  Build the path of value file file_id on volume

int
value_store_path (const char *volume, uint64_t file_id, char *out, size_t out_size)
{
    assert (volume);
    assert (out);
    int length = snprintf (out, out_size, "%s/" S_VALUES_DIR "/%0*" PRIx64 S_SUFFIX,
                           volume, S_ID_DIGITS, file_id);
    if (length < 0 || (size_t) length >= out_size)
        return -ENAMETOOLONG;
    return 0;
}


//  --------------------------------------------------------------------------
//  Stop appending to the current value file

void
value_store_retire (value_store_t *self)
{
    assert (self);
    s_retire_current (self);
}


//  --------------------------------------------------------------------------
//  Id of the file being appended to, or 0

uint64_t
value_store_current_id (value_store_t *self)
{
    assert (self);
    return self->current? self->current_id: 0;
}

uint64_t
value_store_take_file_id (value_store_t *self)
{
    assert (self);
    if (self->next_file_id == UINT64_MAX)
        return 0;
    return self->next_file_id++;
}
