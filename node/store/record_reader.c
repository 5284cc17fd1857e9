/*  =========================================================================
    record_reader - read one sequence's record from the value files,
    verified

    An fd cache (hash by file id + recency list, least recently used
    closed first) in front of value_file_read_header and
    value_file_read_record. The checks are the read path's
    (docs/reading.md); a record that fails any of them is reported as
    damage (md5-mismatch) and its bytes are never handed out.
    =========================================================================
*/
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "record_reader.h"
#include "value_file.h"
#include "value_store.h"

//  An open value file
typedef struct {
    char key [24];                  //  file id as decimal text (hash key)
    int fd;                         //  read-only descriptor
    void *recency_handle;           //  handle in the recency list
} s_open_file_t;

struct _record_reader_t {
    char **volumes;                 //  volume directories (owned)
    size_t volume_count;            //  entries in volumes
    size_t max_open_files;          //  cache bound
    zhashx_t *files;                //  file id text -> s_open_file_t
    zlistx_t *recency;              //  s_open_file_t *, least recently used first
};

record_reader_t *
record_reader_new (const char *const *volumes, size_t volume_count, size_t max_open_files)
{
    assert (volumes || volume_count == 0);
    record_reader_t *self = (record_reader_t *) zmalloc (sizeof (record_reader_t));
    self->volumes = (char **) zmalloc ((volume_count + 1) * sizeof (char *));
    self->volume_count = volume_count;
    bool copied = true;
    for (size_t index = 0; index < volume_count; index++)
        copied = copied && (self->volumes [index] = strdup (volumes [index])) != NULL;
    self->max_open_files = max_open_files > 0? max_open_files: 1;
    self->files = zhashx_new ();
    self->recency = zlistx_new ();
    if (!copied || !self->files || !self->recency)
        record_reader_destroy (&self);
    return self;
}

static void
s_file_close (record_reader_t *self, s_open_file_t *file)
{
    zlistx_delete (self->recency, file->recency_handle);
    zhashx_delete (self->files, file->key);
    close (file->fd);
    free (file);
}

void
record_reader_destroy (record_reader_t **self_p)
{
    assert (self_p);
    record_reader_t *self = *self_p;
    if (!self)
        return;
    s_open_file_t *file;
    while (self->recency && self->files
       && (file = (s_open_file_t *) zlistx_first (self->recency)))
        s_file_close (self, file);
    zlistx_destroy (&self->recency);
    zhashx_destroy (&self->files);
    for (size_t index = 0; index < self->volume_count; index++)
        free (self->volumes [index]);
    free (self->volumes);
    free (self);
    *self_p = NULL;
}

void
record_reader_close_removed (record_reader_t *self)
{
    assert (self);
    s_open_file_t *file = (s_open_file_t *) zlistx_first (self->recency);
    while (file) {
        s_open_file_t *next = (s_open_file_t *) zlistx_next (self->recency);
        struct stat status;
        if (fstat (file->fd, &status) == 0 && status.st_nlink == 0)
            s_file_close (self, file);
        file = next;
    }
}

size_t
record_reader_open_files (record_reader_t *self)
{
    assert (self);
    return zhashx_size (self->files);
}

//  Open value file file_id: on the volume the index names, else on any
//  configured volume. Returns the fd, or -errno.
static int
s_file_open (record_reader_t *self, uint64_t file_id, const char *volume)
{
    char path [1200];
    int error = ENOENT;
    if (*volume) {
        if (value_store_path (volume, file_id, path, sizeof (path)))
            return -ENAMETOOLONG;
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        error = errno;
        if (error != ENOENT)
            return -error;
    }
    for (size_t index = 0; index < self->volume_count; index++) {
        const char *candidate = self->volumes [index];
        if (streq (candidate, volume)
        ||  value_store_path (candidate, file_id, path, sizeof (path)))
            continue;
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            return fd;
    }
    return -error;
}

//  The fd of value file file_id (cached); -errno if it cannot be opened
static int
s_file_fd (record_reader_t *self, uint64_t file_id, const char *volume)
{
    char key [24];
    snprintf (key, sizeof (key), "%" PRIu64, file_id);
    s_open_file_t *file = (s_open_file_t *) zhashx_lookup (self->files, key);
    if (file) {
        zlistx_move_end (self->recency, file->recency_handle);
        return file->fd;
    }
    int fd = s_file_open (self, file_id, volume);
    if (fd < 0)
        return fd;
    while (zhashx_size (self->files) >= self->max_open_files)
        s_file_close (self, (s_open_file_t *) zlistx_first (self->recency));
    file = (s_open_file_t *) zmalloc (sizeof (s_open_file_t));
    memcpy (file->key, key, sizeof (key));
    file->fd = fd;
    file->recency_handle = zlistx_add_end (self->recency, file);
    zhashx_insert (self->files, file->key, file);
    return fd;
}

result_t
record_reader_read (record_reader_t *self, const record_location_t *where,
                    zframe_t **frame_p, char *problem, size_t problem_size)
{
    assert (self);
    assert (where);
    assert (frame_p);
    assert (problem);
    *frame_p = NULL;
    const char *volume = where->volume? where->volume: "";
    int fd = s_file_fd (self, where->value_file_id, volume);
    if (fd < 0) {
        snprintf (problem, problem_size, "value file %016" PRIx64 " cannot be opened: %s",
                  where->value_file_id, store_strerror (fd));
        return RESULT_IO_ERROR;
    }
    struct stat status;
    if (fstat (fd, &status)) {
        snprintf (problem, problem_size, "value file %016" PRIx64 ": %s",
                  where->value_file_id, strerror (errno));
        return RESULT_IO_ERROR;
    }
    value_record_t record;
    int rc = value_file_read_header (fd, where->record_offset, (uint64_t) status.st_size, &record);
    if (rc == STORE_ERR_CORRUPT) {
        snprintf (problem, problem_size, "value file %016" PRIx64 ": record header at offset %"
                  PRIu64 " is malformed or runs past the end of the file",
                  where->value_file_id, where->record_offset);
        return RESULT_MD5_MISMATCH;
    }
    if (rc < 0) {
        snprintf (problem, problem_size, "value file %016" PRIx64 ": read failed: %s",
                  where->value_file_id, store_strerror (rc));
        return RESULT_IO_ERROR;
    }
    //  The record must be the sequence the index says is there
    const char *field = NULL;
    if (record.type != RECORD_SEQUENCE)
        field = "type";
    else
    if (record.unified_id != where->unified_id)
        field = "unified-id";
    else
    if (record.collection_id != where->collection_id)
        field = "collection-id";
    else
    if (record.conjoined_part != where->conjoined_part)
        field = "conjoined-part";
    else
    if (record.segment_num != where->segment_num)
        field = "segment-num";
    else
    if (record.sequence_num != where->sequence_num)
        field = "sequence-num";
    else
    if (record.payload_size != where->segment_size)
        field = "payload size";
    else
    if (value_file_record_size (record.descriptor_size, record.payload_size) != where->record_size)
        field = "record size";
    else
    if (memcmp (record.payload_md5, where->md5, DIGEST_MD5_SIZE) != 0)
        field = "payload MD5";
    if (field) {
        snprintf (problem, problem_size, "value file %016" PRIx64 ": record header at offset %"
                  PRIu64 " does not match the index (%s differs)", where->value_file_id,
                  where->record_offset, field);
        return RESULT_MD5_MISMATCH;
    }
    //  The payload goes straight from the file into the frame to be sent
    zframe_t *frame = NULL;
    if (record.payload_size > 0) {
        frame = zframe_new (NULL, (size_t) record.payload_size);
        if (!frame) {
            snprintf (problem, problem_size, "no memory for %" PRIu64 " bytes", record.payload_size);
            return RESULT_IO_ERROR;
        }
    }
    rc = value_file_read_record (fd, where->record_offset, &record, NULL,
                                 frame? zframe_data (frame): NULL);
    if (rc == 0) {
        *frame_p = frame;
        return RESULT_SUCCESS;
    }
    zframe_destroy (&frame);
    if (rc == STORE_ERR_CORRUPT) {
        snprintf (problem, problem_size, "value file %016" PRIx64 ": record at offset %" PRIu64
                  " fails its CRC32C check", where->value_file_id, where->record_offset);
        return RESULT_MD5_MISMATCH;
    }
    snprintf (problem, problem_size, "value file %016" PRIx64 ": read failed: %s",
              where->value_file_id, store_strerror (rc));
    return RESULT_IO_ERROR;
}
