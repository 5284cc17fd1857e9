/*  =========================================================================
    recovery - make the value files agree with the index at start-up

    Runs before the writer takes any request. Only value files the index
    says were open when the node stopped (closed = 0: a crash, or a kill)
    are looked at, so the time it takes depends on what was in flight, not
    on how much is stored:

    * bytes past the file's synced size (recorded with every group commit)
      were never acknowledged: they are cut off (ftruncate + fdatasync). A
      torn last record is always among them.
    * a file shorter than its synced size lost acknowledged data (the disk
      lied): the missing records are recorded as damaged and logged.
    * the last records the index references in the file are re-read and
      their CRC32C checked; a failure is recorded as damaged. This is done
      for the RECOVERY_NEWEST_FILES newest open files of each volume (the
      ones written last, where a disk that lied about a sync would show)
      and for any file whose size differed from its synced size. Older
      open files the crash did not touch (rolled over, every byte synced:
      the index marks files closed only at a clean stop) are only opened
      and sized, so recovery reads at most RECOVERY_NEWEST_FILES x
      RECOVERY_TAIL_RECORDS records per volume, however much was written
      since the last clean start.

    Then every value file is marked closed. Active segments are left alone:
    they are in the index, and their senders may continue.
    =========================================================================
*/
#ifndef STRATA_RECOVERY_H_INCLUDED
#define STRATA_RECOVERY_H_INCLUDED

#include <stdint.h>
#include "store_index.h"

#define RECOVERY_TAIL_RECORDS 16        //  records re-verified per open file
#define RECOVERY_NEWEST_FILES 2         //  open files per volume always re-verified

typedef struct {
    uint64_t files_checked;             //  value files that were open
    uint64_t bytes_truncated;           //  unacknowledged bytes cut off
    uint64_t records_verified;          //  tail records whose CRC was checked
    uint64_t records_damaged;           //  records found damaged or missing
    uint64_t files_missing;             //  open files not found on disk
} recovery_report_t;

//  Run recovery on the index (autocommit; no transaction may be open).
//  Fills *report. Returns 0, or a negative code (store_error.h) if the
//  index could not be read or updated or a file could not be opened or
//  truncated (the node must not start); the cause is logged.
int
    recovery_run (store_index_t *index, recovery_report_t *report);

#endif
