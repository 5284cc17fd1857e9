/*  =========================================================================
    test_value_store - value files across volumes: file choice, rollover,
    free space and reserve, restart, sync bookkeeping, failed appends.
    The store calls nothing back: what an append or a sync did is checked
    in what they return (value_store_append_t, the synced list).
    =========================================================================
*/
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "value_store.h"

static char s_dir [64];                 //  per-test temporary directory
static char s_vol_a [128];              //  first volume (does not exist yet)
static char s_vol_b [128];              //  second volume (does not exist yet)

static void s_created_reset (void);

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/strata-vs-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_vol_a, sizeof (s_vol_a), "%s/disk-a/strata", s_dir);
    snprintf (s_vol_b, sizeof (s_vol_b), "%s/disk-b", s_dir);
    s_created_reset ();
}

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_teardown (void)
{
    nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite (value_store, .init = s_setup, .fini = s_teardown);

//  --------------------------------------------------------------------------
//  Helpers

#define S_DESCRIPTOR        "descriptor"    //  10 bytes
#define S_DESCRIPTOR_SIZE   10

static uint8_t s_data [1 << 16];            //  payload source

//  The new files appends said they opened, in order
typedef struct {
    int calls;
    uint64_t ids [64];
    uint64_t previous [64];             //  the file each replaced, 0 if none
    char volumes [64][128];
    char paths [64][256];
} s_created_t;

static s_created_t s_created;           //  reset by s_setup

static void
s_created_reset (void)
{
    memset (&s_created, 0, sizeof (s_created));
}

//  What an append said about a new file: note it, and check the file is
//  there, as the owner would record it in the index
static void
s_note_opened (const value_store_append_t *appended)
{
    if (!appended->opened) {
        cr_assert_eq (appended->opened_id, 0);
        cr_assert_null (appended->volume);
        return;
    }
    s_created_t *created = &s_created;
    cr_assert_lt (created->calls, 64);
    cr_assert_not_null (appended->volume);
    created->ids [created->calls] = appended->opened_id;
    created->previous [created->calls] = appended->previous_id;
    snprintf (created->volumes [created->calls], 128, "%s", appended->volume);
    cr_assert_eq (value_store_path (appended->volume, appended->opened_id,
                                    created->paths [created->calls], 256), 0);
    struct stat st;
    cr_assert_eq (stat (created->paths [created->calls], &st), 0);
    created->calls++;
}


//  Append a record with payload_size bytes of s_data; returns the result.
//  Sets *file_id_p and *offset_p on success; notes a new file whatever
//  the result (s_created).
static int
s_append (value_store_t *store, uint64_t payload_size, uint32_t sequence,
          uint64_t *file_id_p, uint64_t *offset_p)
{
    cr_assert_leq (payload_size, sizeof (s_data));
    for (size_t i = 0; i < payload_size; i++)
        s_data [i] = (uint8_t) (i * 13 + sequence);
    value_record_t record;
    memset (&record, 0, sizeof (record));
    record.type = RECORD_SEQUENCE;
    record.unified_id = 42;
    record.sequence_num = sequence;
    record.descriptor_size = S_DESCRIPTOR_SIZE;
    record.payload_size = payload_size;
    digest_md5 (s_data, payload_size, record.payload_md5);
    //  In two pieces, to exercise the iovec path
    struct iovec pieces [2] = {
        { s_data, payload_size / 2 },
        { s_data + payload_size / 2, payload_size - payload_size / 2 }
    };
    value_store_append_t appended;
    memset (&appended, 0xA5, sizeof (appended));     //  every field must be set
    int rc = value_store_append (store, &record, S_DESCRIPTOR, pieces, 2, &appended);
    s_note_opened (&appended);
    if (rc == 0) {
        *file_id_p = appended.file_id;
        *offset_p = appended.offset;
    }
    else {
        cr_assert_eq (appended.file_id, 0, "no file on failure");
        cr_assert_eq (appended.offset, 0);
    }
    return rc;
}

//  Sync; returns the result, with the list of what was synced
static int
s_sync (value_store_t *store, const value_store_synced_t **synced_p, size_t *count_p)
{
    return value_store_sync (store, synced_p, count_p);
}

static uint64_t
s_record_size (uint64_t payload_size)
{
    return value_file_record_size (S_DESCRIPTOR_SIZE, payload_size);
}

//  Check the record at file_id/offset on volume reads back intact
static void
s_check_record (const char *volume, uint64_t file_id, uint64_t offset,
                uint64_t payload_size, uint32_t sequence)
{
    char path [256];
    cr_assert_eq (value_store_path (volume, file_id, path, sizeof (path)), 0);
    value_file_t *file = value_file_open (path, false);
    cr_assert_not_null (file, "cannot open %s", path);
    value_record_t record;
    cr_assert_eq (value_file_read_header (value_file_fd (file), offset,
                                          value_file_size (file), &record), 0);
    cr_assert_eq (record.sequence_num, sequence);
    cr_assert_eq (record.payload_size, payload_size);
    uint8_t *payload = malloc (payload_size + 1);
    char descriptor [S_DESCRIPTOR_SIZE];
    cr_assert_eq (value_file_read_record (value_file_fd (file), offset, &record,
                                          descriptor, payload), 0);
    cr_assert_eq (memcmp (descriptor, S_DESCRIPTOR, S_DESCRIPTOR_SIZE), 0);
    for (size_t i = 0; i < payload_size; i++)
        cr_assert_eq (payload [i], (uint8_t) (i * 13 + sequence));
    free (payload);
    value_file_destroy (&file);
}

static uint64_t
s_size_of (const char *volume, uint64_t file_id)
{
    char path [256];
    cr_assert_eq (value_store_path (volume, file_id, path, sizeof (path)), 0);
    struct stat st;
    if (stat (path, &st) != 0)
        return UINT64_MAX;
    return (uint64_t) st.st_size;
}

//  Number of entries in <volume>/values other than . and ..
static int
s_entries (const char *volume)
{
    char path [256];
    snprintf (path, sizeof (path), "%s/values", volume);
    DIR *dir = opendir (path);
    cr_assert_not_null (dir, "no %s", path);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            count++;
    closedir (dir);
    return count;
}

//  Injected free space: per volume, by path
typedef struct {
    uint64_t free_a;
    uint64_t free_b;
} s_space_t;

static int
s_free_space (void *arg, const char *volume, uint64_t *free_p)
{
    s_space_t *space = (s_space_t *) arg;
    if (strcmp (volume, s_vol_a) == 0)
        *free_p = space->free_a;
    else
    if (strcmp (volume, s_vol_b) == 0)
        *free_p = space->free_b;
    else
        return -EIO;
    return 0;
}


//  --------------------------------------------------------------------------

Test (value_store, append_read_sync_and_results)
{
    const char *volumes [] = { s_vol_a };
    value_store_t *store = value_store_new (volumes, 1, 1 << 20, 0, 1);
    cr_assert_not_null (store);
    //  mkdir -p of the volume and its values/
    struct stat st;
    char values [160];
    snprintf (values, sizeof (values), "%s/values", s_vol_a);
    cr_assert_eq (stat (values, &st), 0);
    cr_assert (S_ISDIR (st.st_mode));
    cr_assert_eq (value_store_file_count (store), 0);
    cr_assert_eq (value_store_unsynced_files (store), 0);
    const value_store_synced_t *synced = NULL;
    size_t synced_count = 99;
    cr_assert_eq (s_sync (store, &synced, &synced_count), 0);         //  nothing written
    cr_assert_eq (synced_count, 0);

    s_created_t *created = &s_created;
    uint64_t sizes [3] = { 100, 0, 5000 };
    uint64_t ids [3], offsets [3];
    uint64_t expected_offset = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (s_append (store, sizes [i], (uint32_t) i, &ids [i], &offsets [i]), 0);
        cr_assert_eq (ids [i], 1);
        cr_assert_eq (offsets [i], expected_offset);
        expected_offset += s_record_size (sizes [i]);
    }
    cr_assert_eq (created->calls, 1, "only the first append opened a file");
    cr_assert_eq (created->ids [0], 1);
    cr_assert_eq (created->previous [0], 0, "it replaced no file");
    cr_assert_str_eq (created->volumes [0], s_vol_a);
    char path [256];
    value_store_path (s_vol_a, 1, path, sizeof (path));
    cr_assert_str_eq (created->paths [0], path);
    cr_assert_eq (value_store_file_count (store), 1);
    cr_assert_eq (value_store_unsynced_bytes (store), expected_offset);
    cr_assert_eq (value_store_unsynced_files (store), 1);

    cr_assert_eq (s_sync (store, &synced, &synced_count), 0);
    cr_assert_eq (synced_count, 1);
    cr_assert_eq (synced [0].file_id, 1);
    cr_assert_eq (synced [0].synced_size, expected_offset, "durable up to its size");
    cr_assert (synced [0].current);
    cr_assert_eq (value_store_unsynced_bytes (store), 0);
    cr_assert_eq (value_store_unsynced_files (store), 0);
    for (int i = 0; i < 3; i++)
        s_check_record (s_vol_a, ids [i], offsets [i], sizes [i], (uint32_t) i);

    //  Appending after a sync continues the same file
    uint64_t id, offset;
    cr_assert_eq (s_append (store, 7, 3, &id, &offset), 0);
    cr_assert_eq (id, 1);
    cr_assert_eq (offset, expected_offset);
    cr_assert_eq (value_store_unsynced_files (store), 1);
    value_store_destroy (&store);
    cr_assert_null (store);
    value_store_destroy (&store);           //  accepts NULL
    s_check_record (s_vol_a, 1, offset, 7, 3);
    cr_assert_eq (s_size_of (s_vol_a, 1), expected_offset + s_record_size (7));
}


Test (value_store, rollover_at_max_file_size)
{
    const char *volumes [] = { s_vol_a };
    uint64_t record_size = s_record_size (100);
    uint64_t max = 3 * record_size;
    value_store_t *store = value_store_new (volumes, 1, max, 0, 1);
    cr_assert_not_null (store);
    s_created_t *created = &s_created;

    for (uint32_t i = 0; i < 10; i++) {
        uint64_t id, offset;
        cr_assert_eq (s_append (store, 100, i, &id, &offset), 0);
        cr_assert_eq (id, 1 + i / 3, "record %u", i);
        cr_assert_eq (offset, (i % 3) * record_size);
    }
    cr_assert_eq (created->calls, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq (created->ids [i], (uint64_t) i + 1);
        //  Each roll-over names the full file it replaces
        cr_assert_eq (created->previous [i], (uint64_t) i);
    }
    cr_assert_eq (value_store_file_count (store), 4);
    cr_assert_eq (value_store_unsynced_files (store), 4);
    const value_store_synced_t *synced;
    size_t synced_count;
    cr_assert_eq (s_sync (store, &synced, &synced_count), 0);
    cr_assert_eq (synced_count, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq (synced [i].file_id, i + 1);
        cr_assert_eq (synced [i].synced_size, i < 3? max: record_size);
        cr_assert_eq (synced [i].current, i == 3, "only the last is still appended to");
    }
    cr_assert_eq (value_store_unsynced_files (store), 0);
    for (uint64_t id = 1; id <= 3; id++)
        cr_assert_eq (s_size_of (s_vol_a, id), max);
    cr_assert_eq (s_size_of (s_vol_a, 4), record_size);
    for (uint32_t i = 0; i < 10; i++)
        s_check_record (s_vol_a, 1 + i / 3, (i % 3) * record_size, 100, i);
    value_store_destroy (&store);
}


Test (value_store, record_bigger_than_max_gets_its_own_file)
{
    const char *volumes [] = { s_vol_a };
    uint64_t max = 200;
    value_store_t *store = value_store_new (volumes, 1, max, 0, 1);
    cr_assert_not_null (store);
    uint64_t id, offset;
    //  Into an empty store: a file of its own
    cr_assert_eq (s_append (store, 1000, 0, &id, &offset), 0);
    cr_assert_eq (id, 1);
    cr_assert_eq (offset, 0);
    //  After it, a small record needs a new file
    cr_assert_eq (s_append (store, 10, 1, &id, &offset), 0);
    cr_assert_eq (id, 2);
    cr_assert_eq (offset, 0);
    //  A big record after a small one: a new file again
    cr_assert_eq (s_append (store, 2000, 2, &id, &offset), 0);
    cr_assert_eq (id, 3);
    cr_assert_eq (offset, 0);
    cr_assert_eq (s_append (store, 10, 3, &id, &offset), 0);
    cr_assert_eq (id, 4);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);
    cr_assert_eq (s_size_of (s_vol_a, 1), s_record_size (1000));
    cr_assert_eq (s_size_of (s_vol_a, 2), s_record_size (10));
    cr_assert_eq (s_size_of (s_vol_a, 3), s_record_size (2000));
    s_check_record (s_vol_a, 3, 0, 2000, 2);
    value_store_destroy (&store);
}


Test (value_store, new_file_goes_to_volume_with_most_free_space)
{
    const char *volumes [] = { s_vol_a, s_vol_b };
    uint64_t record_size = s_record_size (100);
    value_store_t *store = value_store_new (volumes, 2, record_size, 0, 1);
    cr_assert_not_null (store);
    s_space_t space = { .free_a = 1000000, .free_b = 2000000 };
    value_store_set_free_space_fn (store, s_free_space, &space);
    s_created_t *created = &s_created;

    uint64_t id, offset;
    cr_assert_eq (s_append (store, 100, 0, &id, &offset), 0);
    cr_assert_eq (id, 1);
    cr_assert_str_eq (created->volumes [0], s_vol_b);
    cr_assert_eq (s_size_of (s_vol_b, 1), record_size);
    cr_assert_eq (s_size_of (s_vol_a, 1), UINT64_MAX);

    space.free_a = 3000000;
    cr_assert_eq (s_append (store, 100, 1, &id, &offset), 0);
    cr_assert_eq (id, 2);
    cr_assert_str_eq (created->volumes [1], s_vol_a);
    cr_assert_eq (s_size_of (s_vol_a, 2), record_size);

    //  Equal free space: either is fine, the id still increases
    space.free_b = 3000000;
    cr_assert_eq (s_append (store, 100, 2, &id, &offset), 0);
    cr_assert_eq (id, 3);
    cr_assert_eq (created->calls, 3);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);
    s_check_record (s_vol_b, 1, 0, 100, 0);
    s_check_record (s_vol_a, 2, 0, 100, 1);
    s_check_record (created->volumes [2], 3, 0, 100, 2);
    value_store_destroy (&store);
}


Test (value_store, two_real_volumes_ids_unique_and_increasing)
{
    const char *volumes [] = { s_vol_a, s_vol_b };
    uint64_t record_size = s_record_size (50);
    value_store_t *store = value_store_new (volumes, 2, record_size, 0, 1);
    cr_assert_not_null (store);
    s_created_t *created = &s_created;
    uint64_t last = 0;
    for (uint32_t i = 0; i < 8; i++) {
        uint64_t id, offset;
        cr_assert_eq (s_append (store, 50, i, &id, &offset), 0);
        cr_assert_gt (id, last);
        last = id;
        cr_assert_eq (created->ids [i], id);
    }
    cr_assert_eq (created->calls, 8);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);
    //  Every file is in exactly one volume
    cr_assert_eq (s_entries (s_vol_a) + s_entries (s_vol_b), 8);
    for (int i = 0; i < 8; i++)
        s_check_record (created->volumes [i], created->ids [i], 0, 50, (uint32_t) i);
    value_store_destroy (&store);
}


Test (value_store, rolls_to_other_volume_when_current_is_short_of_space)
{
    const char *volumes [] = { s_vol_a, s_vol_b };
    uint64_t reserve = 4096;
    value_store_t *store = value_store_new (volumes, 2, 1 << 20, reserve, 1);
    cr_assert_not_null (store);
    s_space_t space = { .free_a = 2000000, .free_b = 1000000 };
    value_store_set_free_space_fn (store, s_free_space, &space);
    s_created_t *created = &s_created;

    uint64_t id, offset;
    cr_assert_eq (s_append (store, 100, 0, &id, &offset), 0);
    cr_assert_eq (id, 1);
    cr_assert_str_eq (created->volumes [0], s_vol_a);
    //  Exactly record + reserve left: stays
    space.free_a = s_record_size (100) + reserve;
    cr_assert_eq (s_append (store, 100, 1, &id, &offset), 0);
    cr_assert_eq (id, 1);
    //  One byte short: a new file on b, though file 1 is far from full
    space.free_a = s_record_size (100) + reserve - 1;
    cr_assert_eq (s_append (store, 100, 2, &id, &offset), 0);
    cr_assert_eq (id, 2);
    cr_assert_eq (offset, 0);
    cr_assert_str_eq (created->volumes [1], s_vol_b);
    cr_assert_eq (value_store_unsynced_files (store), 2);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);
    s_check_record (s_vol_a, 1, s_record_size (100), 100, 1);
    s_check_record (s_vol_b, 2, 0, 100, 2);
    value_store_destroy (&store);
}


Test (value_store, enospc_writes_nothing)
{
    //  Real free space, a reserve no disk has: nothing fits anywhere
    const char *volumes [] = { s_vol_a, s_vol_b };
    value_store_t *store = value_store_new (volumes, 2, 1 << 20, (uint64_t) 1 << 62, 1);
    cr_assert_not_null (store);
    s_created_t *created = &s_created;
    uint64_t id = 77, offset = 77;
    cr_assert_eq (s_append (store, 100, 0, &id, &offset), -ENOSPC);
    cr_assert_eq (id, 77);
    cr_assert_eq (offset, 77);
    cr_assert_eq (created->calls, 0);
    cr_assert_eq (s_entries (s_vol_a), 0);
    cr_assert_eq (s_entries (s_vol_b), 0);
    cr_assert_eq (value_store_file_count (store), 0);
    cr_assert_eq (value_store_unsynced_bytes (store), 0);
    cr_assert_eq (value_store_unsynced_files (store), 0);
    value_store_destroy (&store);
}


Test (value_store, enospc_with_a_current_file_leaves_it_unchanged)
{
    const char *volumes [] = { s_vol_a, s_vol_b };
    uint64_t reserve = 1000;
    value_store_t *store = value_store_new (volumes, 2, 1 << 20, reserve, 1);
    cr_assert_not_null (store);
    s_space_t space = { .free_a = 1000000, .free_b = 0 };
    value_store_set_free_space_fn (store, s_free_space, &space);
    uint64_t id, offset;
    cr_assert_eq (s_append (store, 100, 0, &id, &offset), 0);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);

    //  Room for the record but not for record + reserve, on both volumes
    space.free_a = s_record_size (100) + reserve - 1;
    space.free_b = s_record_size (100) + reserve - 1;
    cr_assert_eq (s_append (store, 100, 1, &id, &offset), -ENOSPC);
    cr_assert_eq (s_size_of (s_vol_a, 1), s_record_size (100));
    cr_assert_eq (s_entries (s_vol_b), 0);
    cr_assert_eq (value_store_unsynced_bytes (store), 0);
    cr_assert_eq (value_store_unsynced_files (store), 0);
    cr_assert_eq (value_store_file_count (store), 1);

    //  Space comes back: the same file continues
    space.free_a = 1000000;
    cr_assert_eq (s_append (store, 100, 2, &id, &offset), 0);
    cr_assert_eq (id, 1);
    cr_assert_eq (offset, s_record_size (100));
    value_store_destroy (&store);
    s_check_record (s_vol_a, 1, offset, 100, 2);
}


Test (value_store, restart_continues_file_ids)
{
    const char *volumes [] = { s_vol_a, s_vol_b };
    uint64_t record_size = s_record_size (20);
    value_store_t *store = value_store_new (volumes, 2, record_size, 0, 5);
    cr_assert_not_null (store);
    uint64_t id = 0, offset;
    for (uint32_t i = 0; i < 5; i++) {
        cr_assert_eq (s_append (store, 20, i, &id, &offset), 0);
        cr_assert_eq (id, 5 + i);
    }
    value_store_destroy (&store);

    //  Names that are not value files are ignored
    const char *junk [] = { "abc.val", "000000000000000g.val", "00000000000000ff.va",
                            "00000000000000100.val", "0000000000000fff.val.tmp" };
    for (size_t i = 0; i < sizeof (junk) / sizeof (junk [0]); i++) {
        char path [256];
        snprintf (path, sizeof (path), "%s/values/%s", s_vol_a, junk [i]);
        int fd = open (path, O_CREAT | O_WRONLY, 0644);
        cr_assert_geq (fd, 0);
        close (fd);
    }

    store = value_store_new (volumes, 2, record_size, 0, 1);
    cr_assert_not_null (store);
    cr_assert_eq (value_store_file_count (store), 5);
    cr_assert_eq (s_append (store, 20, 9, &id, &offset), 0);
    cr_assert_eq (id, 10);
    cr_assert_eq (value_store_file_count (store), 6);
    value_store_destroy (&store);

    //  first_file_id above the highest on disk wins
    store = value_store_new (volumes, 2, record_size, 0, 0x1000);
    cr_assert_not_null (store);
    cr_assert_eq (s_append (store, 20, 9, &id, &offset), 0);
    cr_assert_eq (id, 0x1000);
    value_store_destroy (&store);

    //  Only one volume given: ids continue after what that volume holds,
    //  and uppercase hex names count too
    char path [256];
    snprintf (path, sizeof (path), "%s/values/00000000000ABCDE.val", s_vol_b);
    int fd = open (path, O_CREAT | O_WRONLY, 0644);
    close (fd);
    const char *only_b [] = { s_vol_b };
    store = value_store_new (only_b, 1, record_size, 0, 1);
    cr_assert_not_null (store);
    cr_assert_eq (s_append (store, 20, 9, &id, &offset), 0);
    cr_assert_eq (id, 0xABCDF);
    value_store_destroy (&store);
}


Test (value_store, sync_counts_only_files_written_since_last_sync)
{
    const char *volumes [] = { s_vol_a };
    uint64_t record_size = s_record_size (30);
    value_store_t *store = value_store_new (volumes, 1, 2 * record_size, 0, 1);
    cr_assert_not_null (store);
    uint64_t id, offset;
    //  Two records per file: five records touch three files
    for (uint32_t i = 0; i < 5; i++)
        cr_assert_eq (s_append (store, 30, i, &id, &offset), 0);
    cr_assert_eq (id, 3);
    cr_assert_eq (value_store_unsynced_files (store), 3);
    cr_assert_eq (value_store_unsynced_bytes (store), 5 * record_size);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);
    cr_assert_eq (value_store_unsynced_files (store), 0);
    cr_assert_eq (value_store_unsynced_bytes (store), 0);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);

    //  File 3 has room for one more: only it is dirty
    cr_assert_eq (s_append (store, 30, 5, &id, &offset), 0);
    cr_assert_eq (id, 3);
    cr_assert_eq (value_store_unsynced_files (store), 1);
    //  Then a new file: two dirty
    cr_assert_eq (s_append (store, 30, 6, &id, &offset), 0);
    cr_assert_eq (id, 4);
    cr_assert_eq (value_store_unsynced_files (store), 2);
    cr_assert_eq (value_store_unsynced_bytes (store), 2 * record_size);
    cr_assert_eq (value_store_sync (store, NULL, NULL), 0);
    cr_assert_eq (value_store_unsynced_files (store), 0);
    for (uint32_t i = 0; i < 7; i++)
        s_check_record (s_vol_a, 1 + i / 2, (i % 2) * record_size, 30, i);
    value_store_destroy (&store);
}


Test (value_store, failed_append_retires_the_file)
{
    const char *volumes [] = { s_vol_a };
    value_store_t *store = value_store_new (volumes, 1, 1 << 20, 0, 1);
    cr_assert_not_null (store);
    s_created_t *created = &s_created;
    uint64_t id, offset;
    cr_assert_eq (s_append (store, 100, 0, &id, &offset), 0);
    cr_assert_eq (id, 1);

    //  The kernel refuses to grow files past this: a partial write, EFBIG
    signal (SIGXFSZ, SIG_IGN);
    struct rlimit limit = { .rlim_cur = s_record_size (100) + 50, .rlim_max = RLIM_INFINITY };
    cr_assert_eq (setrlimit (RLIMIT_FSIZE, &limit), 0);
    cr_assert_eq (s_append (store, 1000, 1, &id, &offset), -EFBIG);
    cr_assert_eq (s_size_of (s_vol_a, 1), s_record_size (100));
    limit.rlim_cur = RLIM_INFINITY;
    cr_assert_eq (setrlimit (RLIMIT_FSIZE, &limit), 0);

    //  The next record goes to a new file; file 1 still awaits its sync
    cr_assert_eq (s_append (store, 100, 2, &id, &offset), 0);
    cr_assert_eq (id, 2);
    cr_assert_eq (offset, 0);
    cr_assert_eq (created->calls, 2);
    cr_assert_eq (created->ids [1], 2);
    cr_assert_eq (created->previous [1], 0, "file 1 was retired, not replaced");
    cr_assert_eq (value_store_unsynced_files (store), 2);
    const value_store_synced_t *synced;
    size_t synced_count;
    cr_assert_eq (s_sync (store, &synced, &synced_count), 0);
    cr_assert_eq (synced_count, 2);
    cr_assert_eq (synced [0].file_id, 1);
    cr_assert_eq (synced [0].synced_size, s_record_size (100));
    cr_assert_not (synced [0].current);
    cr_assert_eq (synced [1].file_id, 2);
    cr_assert (synced [1].current);
    s_check_record (s_vol_a, 1, 0, 100, 0);
    s_check_record (s_vol_a, 2, 0, 100, 2);
    value_store_destroy (&store);
}


Test (value_store, invalid_record_does_not_retire_the_file)
{
    const char *volumes [] = { s_vol_a };
    value_store_t *store = value_store_new (volumes, 1, 1 << 20, 0, 1);
    cr_assert_not_null (store);
    uint64_t id, offset;
    cr_assert_eq (s_append (store, 100, 0, &id, &offset), 0);
    value_record_t record;
    memset (&record, 0, sizeof (record));
    record.type = RECORD_SEQUENCE;
    record.payload_size = 10;           //  but no pieces
    value_store_append_t appended;
    cr_assert_eq (value_store_append (store, &record, NULL, NULL, 0, &appended), -EINVAL);
    cr_assert_not (appended.opened);
    cr_assert_eq (s_append (store, 100, 1, &id, &offset), 0);
    cr_assert_eq (id, 1);
    cr_assert_eq (offset, s_record_size (100));
    cr_assert_eq (value_store_file_count (store), 1);
    value_store_destroy (&store);
}


Test (value_store, unusable_volumes_are_refused)
{
    //  A regular file where a volume should be, or above it
    char file_path [128];
    snprintf (file_path, sizeof (file_path), "%s/plain-file", s_dir);
    int fd = open (file_path, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq (fd, 0);
    close (fd);
    const char *volumes [] = { file_path };
    cr_assert_null (value_store_new (volumes, 1, 1 << 20, 0, 1));
    char below [160];
    snprintf (below, sizeof (below), "%s/sub/volume", file_path);
    volumes [0] = below;
    cr_assert_null (value_store_new (volumes, 1, 1 << 20, 0, 1));

    //  The same volume twice, even spelled differently
    char again [160];
    snprintf (again, sizeof (again), "%s/disk-a//strata/", s_dir);
    const char *twice [] = { s_vol_a, again };
    cr_assert_null (value_store_new (twice, 2, 1 << 20, 0, 1));
}


Test (value_store, path_format)
{
    char path [64];
    cr_assert_eq (value_store_path ("/data/v1", 0x1A2B, path, sizeof (path)), 0);
    cr_assert_str_eq (path, "/data/v1/values/0000000000001a2b.val");
    cr_assert_eq (value_store_path ("v", UINT64_MAX, path, sizeof (path)), 0);
    cr_assert_str_eq (path, "v/values/ffffffffffffffff.val");
    //  Exactly fits, one byte short
    size_t length = strlen ("v/values/ffffffffffffffff.val");
    cr_assert_eq (value_store_path ("v", 1, path, length + 1), 0);
    cr_assert_eq (value_store_path ("v", 1, path, length), -ENAMETOOLONG);
}
