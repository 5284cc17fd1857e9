/*  =========================================================================
    recovery - make the value files agree with the index at start-up

    See recovery.h for what is done and why it is enough: a record is
    acknowledged only after its file was synced and the commit that
    recorded the file's new synced size succeeded, so everything past the
    synced size is unacknowledged by construction.
    =========================================================================
*/
#include <czmq.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "recovery.h"
#include "value_file.h"
#include "value_store.h"

//  One value file that was open
typedef struct {
    uint64_t file_id;                   //  its id
    char *volume;                       //  its volume
    uint64_t synced_size;               //  bytes known durable
    bool newest;                        //  among the newest open files of its volume
} s_open_file_t;

//  A record the index references near the end of a file
typedef struct {
    int64_t segment_id;
    uint32_t sequence_num;
    uint64_t offset;
    uint64_t size;
} s_tail_record_t;

typedef struct {
    s_tail_record_t records [RECOVERY_TAIL_RECORDS];
    int count;
} s_tail_t;

static void
s_collect_file (void *arg, uint64_t file_id, const char *volume, uint64_t synced_size)
{
    s_open_file_t *file = (s_open_file_t *) zmalloc (sizeof (s_open_file_t));
    file->file_id = file_id;
    file->volume = strdup (volume);
    file->synced_size = synced_size;
    zlistx_add_end ((zlistx_t *) arg, file);
}

static void
s_collect_record (void *arg, int64_t segment_id, uint32_t sequence_num,
                  uint64_t record_offset, uint64_t record_size)
{
    s_tail_t *tail = (s_tail_t *) arg;
    if (tail->count < RECOVERY_TAIL_RECORDS)
        tail->records [tail->count++] = (s_tail_record_t) {
            segment_id, sequence_num, record_offset, record_size
        };
}

static void
s_open_file_destroy (s_open_file_t **file_p)
{
    s_open_file_t *file = *file_p;
    if (file) {
        free (file->volume);
        free (file);
        *file_p = NULL;
    }
}

//  Mark the RECOVERY_NEWEST_FILES open files with the highest ids on each
//  volume (files is in id order)
static void
s_mark_newest (zlistx_t *files)
{
    zhashx_t *newer = zhashx_new ();    //  volume -> open files seen after (as a pointer)
    for (s_open_file_t *file = (s_open_file_t *) zlistx_last (files); file;
         file = (s_open_file_t *) zlistx_prev (files)) {
        uintptr_t count = (uintptr_t) zhashx_lookup (newer, file->volume);
        file->newest = count < RECOVERY_NEWEST_FILES;
        zhashx_update (newer, file->volume, (void *) (count + 1));
    }
    zhashx_destroy (&newer);
}

//  Recover one file. Returns 0, or a negative code if the node must not
//  start.
static int
s_recover_file (store_index_t *index, s_open_file_t *file, recovery_report_t *report)
{
    char path [1200];
    int rc = value_store_path (file->volume, file->file_id, path, sizeof (path));
    if (rc) {
        zsys_error ("recovery: value file %016" PRIx64 " on %s: %s", file->file_id, file->volume,
                    store_strerror (rc));
        return rc;
    }
    report->files_checked++;
    int fd = open (path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            rc = -errno;
            zsys_error ("recovery: cannot open %s: %s", path, store_strerror (rc));
            return rc;
        }
        report->files_missing++;
        if (file->synced_size > 0) {
            zsys_error ("recovery: %s is missing but holds acknowledged data", path);
            store_index_add_damaged (index, file->file_id, 0, 0, 0, "value file missing");
            report->records_damaged++;
        }
        return 0;
    }
    struct stat status;
    rc = fstat (fd, &status);
    uint64_t size = rc == 0? (uint64_t) status.st_size: 0;
    if (rc == 0 && size > file->synced_size) {
        //  Never acknowledged: cut it off
        zsys_info ("recovery: %s: cutting %" PRIu64 " unacknowledged bytes past %" PRIu64,
                   path, size - file->synced_size, file->synced_size);
        if (ftruncate (fd, (off_t) file->synced_size) || fdatasync (fd)) {
            rc = -errno;
            zsys_error ("recovery: cannot truncate %s: %s", path, store_strerror (rc));
            close (fd);
            return rc;
        }
        report->bytes_truncated += size - file->synced_size;
        size = file->synced_size;
    }
    else
    if (rc == 0 && size < file->synced_size)
        zsys_error ("recovery: %s is %" PRIu64 " bytes, but %" PRIu64 " were acknowledged",
                    path, size, file->synced_size);

    //  A file the crash did not touch (rolled over earlier, all of it
    //  synced) is left to --check: re-verifying every such file would make
    //  recovery grow with what was written since the last clean start
    if (rc == 0 && size == file->synced_size && !file->newest) {
        close (fd);
        return 0;
    }
    //  Re-verify the last records the index references
    s_tail_t tail = { .count = 0 };
    rc = store_index_file_tail (index, file->file_id, RECOVERY_TAIL_RECORDS, s_collect_record, &tail);
    if (rc) {
        close (fd);
        return rc;
    }
    for (int index_of = 0; index_of < tail.count; index_of++) {
        s_tail_record_t *record = &tail.records [index_of];
        value_record_t header;
        const char *problem = NULL;
        if (value_file_read_header (fd, record->offset, size, &header) != 0)
            problem = "record missing or torn after a crash";
        else
        if (value_file_record_size (header.descriptor_size, header.payload_size) != record->size
        ||  value_file_read_record (fd, record->offset, &header, NULL, NULL) != 0)
            problem = "record failed its CRC32C check after a crash";
        report->records_verified++;
        if (problem) {
            zsys_error ("recovery: %s at offset %" PRIu64 ": %s", path, record->offset, problem);
            store_index_add_damaged (index, file->file_id, record->offset, record->segment_id,
                                     record->sequence_num, problem);
            report->records_damaged++;
        }
    }
    close (fd);
    return 0;
}

int
recovery_run (store_index_t *index, recovery_report_t *report)
{
    assert (index);
    assert (report);
    memset (report, 0, sizeof (*report));
    zlistx_t *files = zlistx_new ();
    zlistx_set_destructor (files, (zlistx_destructor_fn *) s_open_file_destroy);
    int rc = store_index_open_value_files (index, s_collect_file, files);
    if (rc == 0)
        s_mark_newest (files);
    for (s_open_file_t *file = (s_open_file_t *) zlistx_first (files); file && rc == 0;
         file = (s_open_file_t *) zlistx_next (files))
        rc = s_recover_file (index, file, report);
    zlistx_destroy (&files);
    if (rc == 0)
        rc = store_index_close_value_files (index);
    return rc;
}
