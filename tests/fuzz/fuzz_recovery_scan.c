/*  =========================================================================
    fuzz_recovery_scan - libFuzzer target over --rebuild-index, --check and
    start-up recovery, on fuzzed value files

    A scratch node (data directory and two volumes, under $TMPDIR, else on
    /dev/shm when it is there: SQLite syncs a lot) is made once. Each input becomes one or two value files; then
    the node's own code runs over them as it would on a stopped node:

    1. index_rebuild_run: scan every record and replay it into a fresh
       index, swapped in;
    2. index_check_run over the index just rebuilt;
    3. recovery_run, after the value file rows are marked open (as after a
       crash) with a synced size chosen by the input, then --check again.

    Input layout: byte 0 is flags, the rest is value file content.
      bit 0   before writing, give every well-formed record header (as far
              as they chain) its payload's MD5 and its correct CRC32C, as
              the writer would, so the fuzzer reaches the descriptor
              decoding and replay rules behind the CRC check
      bit 1   split the content in two files (ids 1 and 2) at the offset
              given by the next two bytes (little-endian, modulo the size)
      bit 2   put the second file on the second volume
      bits 3-4  synced size recovery is given: 0 what the rebuild
              recorded, 1 zero, 2 past the end of the file, 3 half of it

    Besides "no crash, no leak, no undefined behaviour" (ASan + UBSan):
    the rebuild must succeed (nothing in a value file may make the index
    unrebuildable), --check must run (return >= 0) both times, and recovery
    must succeed. When bit 0 made every record one the writer could have
    written, --check after the rebuild must find no problem at all: the
    rebuilt index agrees with the value files. (Without it, a record whose
    CRC32C holds but whose header MD5 is not its payload's, which no writer
    writes, is indexed by the rebuild and reported by --check.)

    Build: CC=clang cmake -DSTRATA_FUZZ=ON; run: tests/fuzz/run.sh.
    =========================================================================
*/

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "index_check.h"
#include "index_rebuild.h"
#include "recovery.h"
#include "store_index.h"
#include "value_file.h"
#include "value_store.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_FIX_CRC       0x01
#define S_SPLIT         0x02
#define S_SECOND_VOLUME 0x04
#define S_SYNCED_SHIFT  3

static char s_dir [256];                //  scratch data directory
static node_config_t s_config;          //  the scratch node's settings
static FILE *s_out = NULL;              //  where the tools' lines go

//  Fail the run with a message
static void
s_fail (const char *what)
{
    fprintf (stderr, "fuzz_recovery_scan: %s\n", what);
    abort ();
}

static int
s_remove (const char *path, const struct stat *status, int flag, struct FTW *ftw)
{
    (void) status; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_cleanup (void)
{
    if (s_dir [0])
        nftw (s_dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    if (s_out && s_out != stderr) {
        zsys_set_logstream (stderr);
        fclose (s_out);
    }
}

static void
s_setup (void)
{
    //  $TMPDIR (run.sh points it at its scratch directory), else /dev/shm
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = access ("/dev/shm", W_OK) == 0? "/dev/shm": "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/strata-fuzz-scan-XXXXXX", base);
    if (!mkdtemp (s_dir))
        s_fail ("mkdtemp failed");
    memset (&s_config, 0, sizeof s_config);
    snprintf (s_config.name, sizeof s_config.name, "fuzz");
    snprintf (s_config.data_dir, sizeof s_config.data_dir, "%s", s_dir);
    s_config.volume_count = 2;
    for (size_t volume = 0; volume < 2; volume++) {
        char path [1100];
        snprintf (s_config.volumes [volume], sizeof s_config.volumes [volume], "%s/volume%zu",
                  s_dir, volume);
        snprintf (path, sizeof path, "%s/values", s_config.volumes [volume]);
        if (mkdir (s_config.volumes [volume], 0755) || mkdir (path, 0755))
            s_fail ("cannot make the volumes");
    }
    //  STRATA_FUZZ_VERBOSE=1 shows what the tools print
    const char *verbose = getenv ("STRATA_FUZZ_VERBOSE");
    s_out = verbose && streq (verbose, "1")? stderr: fopen ("/dev/null", "w");
    if (!s_out)
        s_fail ("cannot open /dev/null");
    //  Recovery logs through zsys; keep the fuzzer's output readable
    if (s_out != stderr)
        zsys_set_logstream (s_out);
    atexit (s_cleanup);
}

//  Remove what the previous input left: value files and index files
static void
s_clear (void)
{
    const char *names [] = { "index.db", "index.db-wal", "index.db-shm", "index.db-journal",
                             "index.db.old", "index.db.old-wal", "index.db.rebuild",
                             "index.db.rebuild-wal", "index.db.rebuild-shm",
                             "index.db.rebuild-journal" };
    for (size_t index = 0; index < sizeof names / sizeof names [0]; index++) {
        char path [1300];
        snprintf (path, sizeof path, "%s/%s", s_dir, names [index]);
        if (unlink (path) && errno != ENOENT)
            s_fail ("cannot clear the index files");
    }
    for (size_t volume = 0; volume < 2; volume++)
        for (uint64_t file_id = 1; file_id <= 2; file_id++) {
            char path [1200];
            value_store_path (s_config.volumes [volume], file_id, path, sizeof path);
            if (unlink (path) && errno != ENOENT)
                s_fail ("cannot clear the value files");
        }
}

//  Give every well-formed record header of fd, from the start as far as they
//  chain, its payload's MD5 and its correct CRC32C
static void
s_fix_crcs (int fd, uint64_t size)
{
    uint64_t offset = 0;
    value_record_t record;
    while (offset < size && value_file_read_header (fd, offset, size, &record) == 0) {
        uint64_t record_size = value_file_record_size (record.descriptor_size, record.payload_size);
        //  record_size <= size - offset (read_header checked), so this is
        //  bounded by the input's size
        uint8_t *bytes = (uint8_t *) malloc ((size_t) record_size);
        if (!bytes || pread (fd, bytes, (size_t) record_size, (off_t) offset) != (ssize_t) record_size)
            s_fail ("cannot read a record back");
        //  The payload's MD5 into the header, as the writer writes it
        uint64_t payload_offset = VALUE_RECORD_HEADER_SIZE + record.descriptor_size;
        digest_md5 (bytes + payload_offset, (size_t) (record_size - payload_offset), bytes + 48);
        memset (bytes + 12, 0, 4);
        uint32_t crc = digest_crc32c (0, bytes, (size_t) record_size);
        uint8_t stored [4] = { (uint8_t) crc, (uint8_t) (crc >> 8), (uint8_t) (crc >> 16),
                               (uint8_t) (crc >> 24) };
        memcpy (bytes + 12, stored, 4);
        if (pwrite (fd, bytes, VALUE_RECORD_HEADER_SIZE, (off_t) offset) != VALUE_RECORD_HEADER_SIZE)
            s_fail ("cannot write a record header");
        free (bytes);
        offset += record_size;
    }
}

//  Write one value file of the scratch node
static void
s_write_file (size_t volume, uint64_t file_id, const uint8_t *data, size_t size, bool fix_crc)
{
    char path [1200];
    value_store_path (s_config.volumes [volume], file_id, path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        s_fail ("cannot create a value file");
    if (size && write (fd, data, size) != (ssize_t) size)
        s_fail ("cannot write a value file");
    if (fix_crc)
        s_fix_crcs (fd, size);
    close (fd);
}

//  Mark every value file open, as after a crash, with the synced size the
//  mode says; then run recovery
static void
s_recover (int synced_mode)
{
    char path [1300], error [1300] = "";
    snprintf (path, sizeof path, "%s/index.db", s_dir);
    store_index_t *index = store_index_open (path, error, sizeof error);
    if (!index) {
        fprintf (stderr, "%s\n", error);
        s_fail ("cannot open the rebuilt index");
    }
    const char *updates [] = {
        "UPDATE value_file SET closed = 0",
        "UPDATE value_file SET closed = 0, synced_size = 0",
        "UPDATE value_file SET closed = 0, synced_size = synced_size + 100",
        "UPDATE value_file SET closed = 0, synced_size = synced_size / 2",
    };
    char *message = NULL;
    if (sqlite3_exec (store_index_db (index), updates [synced_mode], NULL, NULL, &message)
        != SQLITE_OK) {
        fprintf (stderr, "%s\n", message? message: "?");
        s_fail ("cannot mark the value files open");
    }
    recovery_report_t report;
    if (recovery_run (index, &report))
        s_fail ("recovery failed");
    store_index_destroy (&index);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_out)
        s_setup ();
    if (size == 0)
        return 0;
    uint8_t flags = data [0];
    data++;
    size--;
    s_clear ();
    bool fix_crc = (flags & S_FIX_CRC) != 0;
    if ((flags & S_SPLIT) && size >= 2) {
        size_t value = (size_t) data [0] | (size_t) data [1] << 8;
        data += 2;
        size -= 2;
        size_t split = value % (size + 1);
        s_write_file (0, 1, data, split, fix_crc);
        s_write_file ((flags & S_SECOND_VOLUME)? 1: 0, 2, data + split, size - split, fix_crc);
    }
    else
        s_write_file (0, 1, data, size, fix_crc);

    if (index_rebuild_run (&s_config, s_out))
        s_fail ("--rebuild-index failed on a value file");
    int problems = index_check_run (&s_config, s_out);
    if (problems < 0)
        s_fail ("--check could not run on a rebuilt index");
    if (fix_crc && problems > 0)
        s_fail ("--check found problems in a freshly rebuilt index");
    s_recover ((flags >> S_SYNCED_SHIFT) & 3);
    if (index_check_run (&s_config, s_out) < 0)
        s_fail ("--check could not run after recovery");
    return 0;
}
